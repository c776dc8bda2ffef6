// The sandstream container app: the recipe's function app, replaced. Its identity (user-assigned,
// made with its roles in platform.bicep) reads the keys from Key Vault, writes results to blob
// storage and calls both session pools. Configuration: environment variables (README
// "Configuration"); code runs in the ACA pools, so the image's local pools keep no warm sandboxes.
param location string
param namePrefix string
param tags object
param image string
param registryServer string
param environmentId string
param identityId string
param identityClientId string
param keyVaultUri string
param blobEndpoint string
param appInsightsConnectionString string
param pythonPoolEndpoint string
param nodePoolEndpoint string
param poolMaxSessions int
param poolCooldownSeconds int

resource app 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-app'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    environmentId: environmentId
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: 8080
        transport: 'http'
        allowInsecure: false
      }
      registries: empty(registryServer) ? [] : [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: [
        {
          name: 'ingress-keys'
          keyVaultUrl: '${keyVaultUri}secrets/ingress-keys'
          identity: identityId
        }
        {
          name: 'api-keys'
          keyVaultUrl: '${keyVaultUri}secrets/api-keys'
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'sandstream'
          image: image
          resources: {
            cpu: json('1.0')
            memory: '2Gi'
          }
          env: [
            { name: 'SANDSTREAM_INGRESS_KEYS', secretRef: 'ingress-keys' }
            { name: 'SANDSTREAM_API_KEYS', secretRef: 'api-keys' }
            // DefaultAzureCredential (blob store, ACA pools) picks the user-assigned identity by its client id.
            { name: 'AZURE_CLIENT_ID', value: identityClientId }
            { name: 'SANDSTREAM_RESULTS_STORE', value: 'azure-blob' }
            { name: 'SANDSTREAM_RESULTS_AZURE_ENDPOINT', value: blobEndpoint }
            // The ACA backend's pools (sandstream.aca-pools.<name>.*): one word per name, as
            // environment variables cannot tell a dash in a map key from a level.
            { name: 'SANDSTREAM_ACA_POOLS_PYTHONLTS_ENDPOINT', value: pythonPoolEndpoint }
            { name: 'SANDSTREAM_ACA_POOLS_PYTHONLTS_LANGUAGE', value: 'python' }
            { name: 'SANDSTREAM_ACA_POOLS_PYTHONLTS_MANAGED_IDENTITY_CLIENT_ID', value: identityClientId }
            { name: 'SANDSTREAM_ACA_POOLS_PYTHONLTS_MAX_SESSIONS', value: string(poolMaxSessions) }
            { name: 'SANDSTREAM_ACA_POOLS_PYTHONLTS_COOLDOWN', value: '${poolCooldownSeconds}s' }
            { name: 'SANDSTREAM_ACA_POOLS_NODELTS_ENDPOINT', value: nodePoolEndpoint }
            { name: 'SANDSTREAM_ACA_POOLS_NODELTS_LANGUAGE', value: 'javascript' }
            { name: 'SANDSTREAM_ACA_POOLS_NODELTS_MANAGED_IDENTITY_CLIENT_ID', value: identityClientId }
            { name: 'SANDSTREAM_ACA_POOLS_NODELTS_MAX_SESSIONS', value: string(poolMaxSessions) }
            { name: 'SANDSTREAM_ACA_POOLS_NODELTS_COOLDOWN', value: '${poolCooldownSeconds}s' }
            // Container Apps gives no user namespaces: the local pools start no sandboxes here.
            { name: 'SANDSTREAM_POOLS_PYTHON_READY_SESSIONS', value: '0' }
            { name: 'SANDSTREAM_POOLS_JAVASCRIPT_READY_SESSIONS', value: '0' }
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
          ]
          probes: [
            {
              type: 'Startup'
              httpGet: { path: '/q/health/started', port: 8080 }
              periodSeconds: 2
              failureThreshold: 60
            }
            {
              type: 'Liveness'
              httpGet: { path: '/q/health/live', port: 8080 }
              periodSeconds: 10
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: { path: '/q/health/ready', port: 8080 }
              periodSeconds: 5
              failureThreshold: 2
            }
          ]
          volumeMounts: [
            { volumeName: 'data', mountPath: '/var/lib/sandstream' }
          ]
        }
      ]
      // The journal lives on the replica (EmptyDir): it outlives container restarts, not the
      // replica. One replica keeps every accepted event with the instance that journalled it.
      volumes: [
        { name: 'data', storageType: 'EmptyDir' }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output fqdn string = app.properties.configuration.ingress.fqdn
