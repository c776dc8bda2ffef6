// The recipe's Event Grid custom topics: one in the CloudEvents 1.0 schema and one in the Event
// Grid schema (the recipe's own test event, Microsoft.EventGrid.ExecuteCode, is in that schema;
// a topic takes one input schema only), each with a webhook
// subscription to sandstream's POST /events (the ingress key as ?code=; sandstream answers the
// CloudEvents abuse-protection handshake, OPTIONS /events). Undeliverable events go to the
// deadletter container, written with the topic's own identity (the account takes no shared keys).
param location string
param namePrefix string
param tags object
param appFqdn string
@secure()
param ingressKey string
param storageAccountName string
param deadLetterContainerName string
param subjectBeginsWith string
param includedEventTypes array
param maxDeliveryAttempts int
param eventTimeToLiveInMinutes int
param eventGridSchemaEventTypes array

var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  name: '${namePrefix}-events'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    publicNetworkAccess: 'Enabled'
  }
}

resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, topic.id, blobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource webhook 'Microsoft.EventGrid/topics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'sandstream-execute'
  dependsOn: [
    deadLetterWriter
  ]
  properties: {
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${appFqdn}/events?code=${ingressKey}'
        maxEventsPerBatch: 10
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      subjectBeginsWith: subjectBeginsWith
      includedEventTypes: includedEventTypes
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output topicName string = topic.name
output topicEndpoint string = topic.properties.endpoint

// The Event Grid schema topic: the same endpoint, which takes both schemas (and answers Event
// Grid's SubscriptionValidationEvent handshake); delivered in the schema it was published in.
resource eventGridTopic 'Microsoft.EventGrid/topics@2022-06-15' = {
  name: '${namePrefix}-events-eg'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'EventGridSchema'
    publicNetworkAccess: 'Enabled'
  }
}

resource eventGridDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, eventGridTopic.id, blobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: eventGridTopic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource eventGridWebhook 'Microsoft.EventGrid/topics/eventSubscriptions@2022-06-15' = {
  parent: eventGridTopic
  name: 'sandstream-execute'
  dependsOn: [
    eventGridDeadLetterWriter
  ]
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${appFqdn}/events?code=${ingressKey}'
        maxEventsPerBatch: 10
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      subjectBeginsWith: subjectBeginsWith
      includedEventTypes: eventGridSchemaEventTypes
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output eventGridSchemaTopicName string = eventGridTopic.name
output eventGridSchemaTopicEndpoint string = eventGridTopic.properties.endpoint
// An Event Grid schema event's topic: a publisher may set it only to exactly this (deploy.sh does,
// so it knows the source, and so the executionId, its smoke test's event gets).
output eventGridSchemaTopicId string = eventGridTopic.id
