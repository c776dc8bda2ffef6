// The whole original Azure design (../shared/AZURE-RECIPE.md) with sandstream in place of the
// function app: resource group, Log Analytics + Application Insights, Key Vault (RBAC), storage
// (execution-results, execution-logs, deadletter), Container Apps environment, Python and Node
// dynamic session pool (egress disabled), the sandstream container app with a managed identity
// and its roles (AcrPull on the registry before the app exists), and an Event Grid topic
// (CloudEvents schema) pushing to https://<app>/events. scaleOut (the default, the durable mode):
// an Event Hubs namespace too, holding the Kafka journal that 2 or more replicas share, so no
// replica takes accepted events with it. Deploy with deploy.sh (or azd up); remove with
// cleanup.sh. Parameters: README.md beside this file.
targetScope = 'subscription'

@description('Azure region of every resource.')
param location string

@description('Resource group to create (or update).')
param resourceGroupName string = 'rg-sandstream'

@description('Prefix of resource names: a lowercase letter, then lowercase letters and digits, 3 to 11 characters (session pool names allow nothing else).')
@minLength(3)
@maxLength(11)
param namePrefix string = 'sandstream'

@description('sandstream image with a pinned tag or digest, e.g. myregistry.azurecr.io/sandstream:1a2b3c4 (never latest).')
param image string

@description('Azure Container Registry server to pull the image from with the app\'s managed identity (granted AcrPull there by this deployment); empty for a public image.')
param registryServer string = ''

@description('Resource group of that registry; empty: the one named resourceGroupName.')
param registryResourceGroup string = ''

@description('Production: Key Vault purge protection and 90 days of soft delete (a deleted vault can then only be recovered, never purged).')
param productionMode bool = false

@description('Key Event Grid sends as ?code= on every push to /events (stored in Key Vault as ingress-keys); empty keeps the vault\'s.')
@secure()
param ingressKey string = ''

@description('Key of the read and pool APIs, sees every subject (stored in Key Vault as api-keys, as KEY@*); empty keeps the vault\'s.')
@secure()
param apiKey string = ''

@description('Sessions per pool at most (the recipe\'s max sessions).')
param poolMaxSessions int = 20

@description('Sessions each pool keeps ready (the recipe\'s ready sessions).')
param poolReadySessions int = 5

@description('Idle seconds before a session is destroyed (the recipe\'s cooldown).')
param poolCooldownSeconds int = 300

@description('Event subjects the subscription delivers: those beginning with this.')
param subjectBeginsWith string = 'code-execution'

@description('Event types the subscription delivers.')
param includedEventTypes array = [
  'io.sandstream.code.execute'
]

@description('Event types the Event Grid schema topic\'s subscription delivers (the recipe\'s test event).')
param eventGridSchemaEventTypes array = [
  'Microsoft.EventGrid.ExecuteCode'
]

@description('Delivery attempts per event before it is dead-lettered.')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes Event Grid keeps retrying an event before it is dead-lettered.')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

@description('Scale-out mode (the default, durable): the journal in Event Hubs (Kafka endpoint), 2 to scaleOutMaxReplicas replicas scaled on consumer lag. Off: one replica with the journal on its EmptyDir volume, lost with the replica (a trial mode).')
param scaleOut bool = true

@description('Most replicas in scale-out mode: at most the lanes\' partition count, as more consumers than partitions sit idle.')
@minValue(2)
@maxValue(12)
param scaleOutMaxReplicas int = 6

@description('Tags of every resource.')
param tags object = {
  application: 'sandstream'
}

// The Kafka journal's names, sandstream.kafka.*'s defaults: topics <prefix>high, normal, low and
// results, the lanes read by one consumer group. lanePartitions bounds scaleOutMaxReplicas above.
var kafka = {
  topicPrefix: 'sandstream-'
  groupId: 'sandstream'
  lanePartitions: 12
}

// The vault's name, known when the deployment starts (getSecret below needs that): the same
// uniqueString of the group's id that platform.bicep uses for its other names.
var keyVaultName = take('kv-${namePrefix}-${uniqueString(subscriptionResourceId('Microsoft.Resources/resourceGroups', resourceGroupName))}', 24)
var pullWithIdentity = !empty(registryServer)

resource group 'Microsoft.Resources/resourceGroups@2022-09-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module platform 'modules/platform.bicep' = {
  name: 'sandstream-platform'
  scope: group
  params: {
    location: location
    namePrefix: namePrefix
    tags: tags
    ingressKey: ingressKey
    apiKey: apiKey
    poolMaxSessions: poolMaxSessions
    poolReadySessions: poolReadySessions
    poolCooldownSeconds: poolCooldownSeconds
    keyVaultName: keyVaultName
    productionMode: productionMode
  }
}

// AcrPull before the app: its first revision pulls the image with the identity.
module acrPull 'modules/acrpull.bicep' = if (pullWithIdentity) {
  name: 'sandstream-acrpull'
  scope: resourceGroup(empty(registryResourceGroup) ? resourceGroupName : registryResourceGroup)
  dependsOn: [
    group
  ]
  params: {
    registryName: split(registryServer, '.')[0]
    principalId: platform.outputs.identityPrincipalId
  }
}

// Read back from the vault, whether this deployment wrote it or an earlier one did.
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
  scope: resourceGroup(resourceGroupName)
}

module eventHubs 'modules/eventhubs.bicep' = if (scaleOut) {
  name: 'sandstream-eventhubs'
  scope: group
  params: {
    location: location
    namePrefix: namePrefix
    tags: tags
    identityPrincipalId: platform.outputs.identityPrincipalId
    keyVaultName: platform.outputs.keyVaultName
    topicPrefix: kafka.topicPrefix
    lanePartitions: kafka.lanePartitions
  }
}

module app 'modules/app.bicep' = {
  name: 'sandstream-app'
  scope: group
  dependsOn: [
    acrPull
  ]
  params: {
    location: location
    namePrefix: namePrefix
    tags: tags
    image: image
    registryServer: registryServer
    environmentId: platform.outputs.environmentId
    identityId: platform.outputs.identityId
    identityClientId: platform.outputs.identityClientId
    keyVaultUri: platform.outputs.keyVaultUri
    blobEndpoint: platform.outputs.blobEndpoint
    appInsightsConnectionString: platform.outputs.appInsightsConnectionString
    pythonPoolEndpoint: platform.outputs.pythonPoolEndpoint
    poolMaxSessions: poolMaxSessions
    poolCooldownSeconds: poolCooldownSeconds
    scaleOut: scaleOut
    scaleOutMaxReplicas: scaleOutMaxReplicas
    // Also orders the app after the namespace, its topics, roles and the scale rules' secret.
    kafkaBootstrapServers: scaleOut ? eventHubs.outputs.bootstrapServers : ''
    kafkaTopicPrefix: kafka.topicPrefix
    kafkaGroupId: kafka.groupId
  }
}

module events 'modules/eventgrid.bicep' = {
  name: 'sandstream-eventgrid'
  scope: group
  params: {
    location: location
    namePrefix: namePrefix
    tags: tags
    appFqdn: app.outputs.fqdn
    ingressKey: vault.getSecret('ingress-keys')
    storageAccountName: platform.outputs.storageAccountName
    deadLetterContainerName: platform.outputs.deadLetterContainerName
    subjectBeginsWith: subjectBeginsWith
    includedEventTypes: includedEventTypes
    maxDeliveryAttempts: maxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    eventGridSchemaEventTypes: eventGridSchemaEventTypes
  }
}

output resourceGroupName string = group.name
output appUrl string = 'https://${app.outputs.fqdn}'
output topicName string = events.outputs.topicName
output topicEndpoint string = events.outputs.topicEndpoint
output eventGridSchemaTopicName string = events.outputs.eventGridSchemaTopicName
output eventGridSchemaTopicEndpoint string = events.outputs.eventGridSchemaTopicEndpoint
output eventGridSchemaTopicId string = events.outputs.eventGridSchemaTopicId
output keyVaultName string = platform.outputs.keyVaultName
output storageAccountName string = platform.outputs.storageAccountName
output pythonPoolEndpoint string = platform.outputs.pythonPoolEndpoint
output eventHubsNamespace string = scaleOut ? eventHubs.outputs.namespaceName : ''
output kafkaBootstrapServers string = scaleOut ? eventHubs.outputs.bootstrapServers : ''
