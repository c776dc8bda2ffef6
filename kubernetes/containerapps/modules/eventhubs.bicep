// Scale-out mode only (main.bicep's scaleOut): the shared journal. An Event Hubs namespace, whose
// Kafka endpoint (<namespace>.servicebus.windows.net:9093; every Standard namespace has one) holds
// the three lane topics, the results topic and the session directory, made here so the app creates none. The app's
// identity gets the data-plane roles on the namespace and signs in with Entra ID; KEDA's lag reader
// gets a Listen-only key, kept in Key Vault for the app's scale rules.
// No Event Hubs consumer group is declared: those serve AMQP readers. Kafka consumer groups (the
// app's group.id, sandstream) are a separate thing, made on first join and kept by the service.
param location string
param namePrefix string
param tags object
param identityPrincipalId string
param keyVaultName string
param topicPrefix string
param lanePartitions int

var suffix = uniqueString(resourceGroup().id)

// Built-in role definitions (the same GUID in every tenant). Send and receive are all the app
// does: with the topics made here it needs no Data Owner (which creating topics would take).
var roles = {
  eventHubsDataSender: '2b629674-e913-4c01-ae53-ef4638d8f975' // Azure Event Hubs Data Sender
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde' // Azure Event Hubs Data Receiver
}

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: 'evhns-${namePrefix}-${suffix}'
  location: location
  tags: tags
  // Standard: the lowest tier with the Kafka endpoint; 7 days' retention at most.
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: 1
  }
  properties: {
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    // Throughput units follow the load, from 1 up to 4 (each 1 MB/s in, 2 MB/s out).
    isAutoInflateEnabled: true
    maximumThroughputUnits: 4
    // Shared keys stay enabled for one reader: KEDA's kafka scaler signs in with a key on Container
    // Apps. The app itself uses Entra ID.
    disableLocalAuth: false
  }
}

// The lanes: as many partitions as replicas can share one lane (sandstream.kafka.lane-partitions).
resource lanes 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = [for lane in [
  'high'
  'normal'
  'low'
]: {
  parent: namespace
  name: '${topicPrefix}${lane}'
  properties: {
    partitionCount: lanePartitions
    messageRetentionInDays: 7
  }
}]

// Exactly ONE partition: the results topic's offsets number the SSE stream, one total order.
resource results 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: '${topicPrefix}results'
  properties: {
    partitionCount: 1
    messageRetentionInDays: 7
  }
}

// The directory of pool API sessions (docs/scale-out.md, "Sessions across instances"): who opened
// each session, so that one whose replica died answers SessionLost. Standard has no compaction:
// seven days of records are replayed at start, which are few.
resource sessions 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: '${topicPrefix}sessions'
  properties: {
    partitionCount: 1
    messageRetentionInDays: 7
  }
}

// Events given up after sandstream.routing.max-attempts starts (sandstream.kafka.dead-letter-topic).
resource deadLetter 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: '${topicPrefix}dead-letter'
  properties: {
    partitionCount: 1
    messageRetentionInDays: 7
  }
}

// Live output of running executions for the other replicas' streams (sandstream.kafka.live.*):
// needed only while an execution runs, so the shortest retention.
resource live 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: '${topicPrefix}live'
  properties: {
    partitionCount: 1
    messageRetentionInDays: 1
  }
}

resource dataRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in [
  roles.eventHubsDataSender
  roles.eventHubsDataReceiver
]: {
  name: guid(namespace.id, identityPrincipalId, role)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

// Reading consumer lag (offsets and group offsets) takes Listen, nothing more.
resource lagReader 'Microsoft.EventHub/namespaces/authorizationRules@2024-01-01' = {
  parent: namespace
  name: 'keda-lag-reader'
  properties: {
    rights: [
      'Listen'
    ]
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// The scale rules' password, by Key Vault reference like the app's keys (never a deployment output).
resource lagReaderSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'kafka-scaler-connection-string'
  properties: {
    value: lagReader.listKeys().primaryConnectionString
  }
}

output namespaceName string = namespace.name
// host:9093 from the namespace's endpoint (https://<namespace>.servicebus.windows.net:443/).
output bootstrapServers string = '${split(split(namespace.properties.serviceBusEndpoint, '/')[2], ':')[0]}:9093'
