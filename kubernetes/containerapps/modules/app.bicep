// The sandstream container app: the recipe's function app, replaced. Its identity (user-assigned,
// made with its roles in platform.bicep) reads the keys from Key Vault, writes results to blob
// storage and calls both session pools. Configuration: environment variables
// (docs/configuration.md); code runs in the ACA pools, so the image's local pools keep no warm sandboxes.
// scaleOut: the Kafka journal in Event Hubs (eventhubs.bicep), 2 or more replicas scaled on lag.
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
param poolMaxSessions int
param poolCooldownSeconds int
param scaleOut bool
param scaleOutMaxReplicas int
param kafkaBootstrapServers string
param kafkaTopicPrefix string
param kafkaGroupId string

// Scale-out: the journal on Event Hubs' Kafka endpoint, reached with the app's identity (Entra ID,
// DefaultAzureCredential through AZURE_CLIENT_ID). eventhubs.bicep made the topics: none is created.
// SANDSTREAM_KAFKA_INSTANCE_ID stays unset: the host name, unique per replica, is its default.
var kafkaEnv = [
  { name: 'SANDSTREAM_JOURNAL_KIND', value: 'kafka' }
  { name: 'SANDSTREAM_KAFKA_BOOTSTRAP_SERVERS', value: kafkaBootstrapServers }
  { name: 'SANDSTREAM_KAFKA_AUTH', value: 'entra' }
  { name: 'SANDSTREAM_KAFKA_CREATE_TOPICS', value: 'false' }
  { name: 'SANDSTREAM_KAFKA_TOPIC_PREFIX', value: kafkaTopicPrefix }
  { name: 'SANDSTREAM_KAFKA_GROUP_ID', value: kafkaGroupId }
]

// KEDA's kafka scaler reads lag with SASL PLAIN over TLS: Event Hubs' fixed user name for a
// connection string (not a secret, but scale rules take credentials from secrets only) and a
// Listen-only connection string from Key Vault. It has no Entra sign-in on Container Apps.
var kafkaSecrets = [
  { name: 'kafka-sasl-username', value: '$ConnectionString' }
  {
    name: 'kafka-scaler-connection-string'
    keyVaultUrl: '${keyVaultUri}secrets/kafka-scaler-connection-string'
    identity: identityId
  }
]

// One rule per lane topic; the app runs as many replicas as the most demanding rule asks for.
// lagThreshold is the target lag per replica: high asks for a replica at 50 waiting records so its
// latency stays low, normal and low tolerate 200. offsetResetPolicy earliest, as the lanes'
// consumers: a group with no committed offset yet counts its whole topic as lag.
var lanes = [
  { name: 'high', lagThreshold: 50 }
  { name: 'normal', lagThreshold: 200 }
  { name: 'low', lagThreshold: 200 }
]
var kafkaScaleRules = [for lane in lanes: {
  name: 'kafka-lag-${lane.name}'
  custom: {
    type: 'kafka'
    metadata: {
      bootstrapServers: kafkaBootstrapServers
      consumerGroup: kafkaGroupId
      topic: '${kafkaTopicPrefix}${lane.name}'
      lagThreshold: string(lane.lagThreshold)
      offsetResetPolicy: 'earliest'
      sasl: 'plaintext'
      tls: 'enable'
    }
    auth: [
      { secretRef: 'kafka-sasl-username', triggerParameter: 'username' }
      { secretRef: 'kafka-scaler-connection-string', triggerParameter: 'password' }
    ]
  }
}]

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
        // Several replicas: a client keeps to one (cookie affinity), as the Kubernetes Service's
        // ClientIP affinity keeps it on the pod that holds its pool API sessions.
        stickySessions: {
          affinity: scaleOut ? 'sticky' : 'none'
        }
      }
      registries: empty(registryServer) ? [] : [
        {
          server: registryServer
          identity: identityId
        }
      ]
      secrets: concat([
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
      ], scaleOut ? kafkaSecrets : [])
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
          env: concat([
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
            // Container Apps gives no user namespaces: the local pools start no sandboxes here.
            { name: 'SANDSTREAM_POOLS_PYTHON_READY_SESSIONS', value: '0' }
            { name: 'SANDSTREAM_POOLS_JAVASCRIPT_READY_SESSIONS', value: '0' }
            { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
            // JSON lines for Log Analytics (the service logs text by default).
            { name: 'QUARKUS_LOG_CONSOLE_JSON_ENABLED', value: 'true' }
          ], scaleOut ? kafkaEnv : [])
          // ContainerAppProbe (Microsoft.App 2024-03-01, CommonDefinitions.json): failureThreshold
          // 1-10, initialDelaySeconds 1-60, periodSeconds 1-240, timeoutSeconds 1-240 (default 1).
          // A slow start is covered by the delay and the period, not the threshold: the startup
          // probe allows 20 + 10 x 10 = 120 s (a loaded 2-core host measured 16-21 s).
          probes: [
            {
              type: 'Startup'
              httpGet: { path: '/q/health/started', port: 8080 }
              initialDelaySeconds: 20
              periodSeconds: 10
              timeoutSeconds: 3
              failureThreshold: 10
            }
            {
              type: 'Liveness'
              httpGet: { path: '/q/health/live', port: 8080 }
              periodSeconds: 10
              timeoutSeconds: 3
              failureThreshold: 3
            }
            {
              type: 'Readiness'
              httpGet: { path: '/q/health/ready', port: 8080 }
              periodSeconds: 5
              timeoutSeconds: 3
              failureThreshold: 2
            }
          ]
          volumeMounts: [
            { volumeName: 'data', mountPath: '/var/lib/sandstream' }
          ]
        }
      ]
      // Stopping a replica (a new revision, a scale-in, a platform move) lets the execution in
      // progress finish: the longest runs 220 s (timeoutSeconds), plus the interrupt grace. The
      // service drains for at most sandstream.shutdown.drain-timeout (200 s) after SIGTERM.
      terminationGracePeriodSeconds: 240
      // Scale-out (the default): every acknowledged event is in Event Hubs, and the volume holds
      // only the replica's copy of the results topic (rebuilt at start): replicas are
      // interchangeable and none takes accepted work with it. Without scale-out the journal lives
      // on the replica (EmptyDir), which outlives container restarts, not the replica: a new
      // revision or a platform move drops what was accepted and not yet run (a trial mode).
      volumes: [
        { name: 'data', storageType: 'EmptyDir' }
      ]
      // Scale-out: two replicas at least (a lost one's partitions move to the other), more on lag.
      scale: scaleOut ? {
        minReplicas: 2
        maxReplicas: scaleOutMaxReplicas
        rules: kafkaScaleRules
      } : {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output fqdn string = app.properties.configuration.ingress.fqdn
