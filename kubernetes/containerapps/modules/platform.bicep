// Everything the app stands on: monitoring, Key Vault, storage, the Container Apps environment,
// the two session pools, and the app's user-assigned identity with its role assignments (made
// before the app exists, so its first revision can already read Key Vault and call the pools).
param location string
param namePrefix string
param tags object
@secure()
param ingressKey string
@secure()
param apiKey string
param poolMaxSessions int
param poolReadySessions int
param poolCooldownSeconds int
@description('Key Vault name, computed in main.bicep (which reads the ingress key back from it).')
param keyVaultName string
@description('Production: purge protection on the vault (irreversible; a deleted vault then stays for its retention).')
param productionMode bool

var suffix = uniqueString(resourceGroup().id)

// Built-in role definitions (the same GUID in every tenant).
var roles = {
  sessionExecutor: '0fb8eba5-a2bb-4abe-b1c1-49dfad359bb0' // Azure ContainerApps Session Executor
  blobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-logs-${suffix}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-insights-${suffix}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: productionMode ? 90 : 7
    // Purge protection cannot be switched off once on: only in production (null leaves it unset).
    enablePurgeProtection: productionMode ? true : null
    // main.bicep hands the ingress key to the Event Grid module with getSecret().
    enabledForTemplateDeployment: true
    publicNetworkAccess: 'Enabled'
  }
}

// The keys, as the app's environment expects them (SANDSTREAM_INGRESS_KEYS, SANDSTREAM_API_KEYS).
// Written only when a key is given: a redeploy without keys keeps the vault's (no rotation).
resource ingressKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(ingressKey)) {
  parent: vault
  name: 'ingress-keys'
  properties: {
    value: ingressKey
  }
}

resource apiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(apiKey)) {
  parent: vault
  name: 'api-keys'
  properties: {
    value: '${apiKey}@*'
  }
}

// HTTPS only, TLS 1.2, no shared keys and no anonymous access: every client uses Entra ID.
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: take('${toLower(namePrefix)}${suffix}', 24)
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    accessTier: 'Hot'
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// execution-results and execution-logs are the result store's defaults
// (sandstream.results.azure.results-container / logs-container); deadletter takes Event Grid's.
resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for name in [
  'execution-results'
  'execution-logs'
  'deadletter'
]: {
  parent: blobs
  name: name
  properties: {
    publicAccess: 'None'
  }
}]

resource appEnvironment 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${namePrefix}-env'
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logs.properties.customerId
        sharedKey: logs.listKeys().primarySharedKey
      }
    }
  }
}

// The recipe's pool (PythonLTS): its size, cooldown and no egress. Session pool names match
// ^[a-z][a-z0-9]*$ (3-63 characters; no dash), and 2025-01-01 knows two container types,
// PythonLTS and CustomContainer (SessionPools.json of that version, azure-rest-api-specs): no
// NodeLTS, so no built-in Node pool. JavaScript on Container Apps needs a CustomContainer pool
// with a Node image of your own (add it here and a SANDSTREAM_ACA_POOLS_* block in app.bicep).
var sessionPools = [
  { name: 'python', containerType: 'PythonLTS' }
]
resource pools 'Microsoft.App/sessionPools@2025-01-01' = [for pool in sessionPools: {
  name: '${toLower(namePrefix)}${pool.name}'
  location: location
  tags: tags
  properties: {
    environmentId: appEnvironment.id
    poolManagementType: 'Dynamic'
    containerType: pool.containerType
    scaleConfiguration: {
      maxConcurrentSessions: poolMaxSessions
      readySessionInstances: poolReadySessions
    }
    dynamicPoolConfiguration: {
      lifecycleConfiguration: {
        lifecycleType: 'Timed'
        cooldownPeriodInSeconds: poolCooldownSeconds
      }
    }
    sessionNetworkConfiguration: {
      status: 'EgressDisabled'
    }
  }
}]

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-identity'
  location: location
  tags: tags
}

resource poolExecutor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for i in range(0, length(sessionPools)): {
  name: guid(pools[i].id, identity.id, roles.sessionExecutor)
  scope: pools[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.sessionExecutor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}]

resource blobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.blobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output environmentId string = appEnvironment.id
output identityId string = identity.id
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output keyVaultName string = vault.name
output keyVaultUri string = vault.properties.vaultUri
output storageAccountName string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output deadLetterContainerName string = containers[2].name
output appInsightsConnectionString string = insights.properties.ConnectionString
output pythonPoolEndpoint string = pools[0].properties.poolManagementEndpoint
