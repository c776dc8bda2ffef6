package io.sandstream.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import io.sandstream.config.ConfigNames;
import io.sandstream.config.SandstreamConfig;

/**
 * The Bicep templates and az scripts of {@code kubernetes/containerapps/}, checked for structure
 * (no Bicep compiler installs here): the recipe's whole topology with current API versions,
 * parameters declared and used, module parameters and outputs that match, the built-in role GUIDs,
 * the recipe's settings, configuration names that {@link SandstreamConfig} has, and scripts that
 * pass every required parameter and shellcheck. The optional scale-out mode (Event Hubs, KEDA's
 * kafka scale rules) is off by default, and its topics, group and settings match the app's.
 */
class ContainerAppsTemplatesTest {

    private static final Path DIR = Path.of("kubernetes/containerapps");
    private static final Pattern RESOURCE = Pattern.compile("(?m)^resource (\\w+) '([\\w./]+)@([\\w-]+)'( existing)? =");
    private static final Pattern PARAM = Pattern.compile("(?m)^param (\\w+) (\\w+)( = (.*))?$");
    private static final Pattern OUTPUT = Pattern.compile("(?m)^output (\\w+) ");
    private static final Pattern MODULE = Pattern.compile("(?m)^module (\\w+) '([^']+)' = (if \\((\\w+)\\) )?\\{");
    private static final Pattern ENV = Pattern.compile("\\{ name: '([A-Z0-9_]+)', (value|secretRef): ('([^']*)'|[^}]*?) \\}");
    private static final List<String> LANES = List.of("high", "normal", "low");
    private static final Pattern GUID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /** The built-in roles, by the GUID Azure gives them in every tenant. */
    private static final Map<String, String> ROLES = Map.of(
            "0fb8eba5-a2bb-4abe-b1c1-49dfad359bb0", "Azure ContainerApps Session Executor",
            "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Storage Blob Data Contributor",
            "4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User",
            "2b629674-e913-4c01-ae53-ef4638d8f975", "Azure Event Hubs Data Sender",
            "a638d3c7-ab3a-418d-83e6-5f17a39d4fde", "Azure Event Hubs Data Receiver",
            "7f951dda-4ed3-4680-a7ca-43fe172d538d", "AcrPull");

    @Test
    void theWholeTopologyIsDeclaredWithStableApiVersions() throws IOException {
        Map<String, String> types = new TreeMap<>();
        for (String file : bicepFiles().values()) {
            Matcher m = RESOURCE.matcher(file);
            while (m.find()) {
                if (m.group(4) == null) {
                    types.put(m.group(2), m.group(3));
                }
                assertTrue(m.group(3).matches("\\d{4}-\\d{2}-\\d{2}"), "a stable API version: " + m.group(2) + "@" + m.group(3));
            }
        }
        // A symbol named like a Bicep function (environment(), subscription(), ...) hides the function.
        Set<String> functions = Set.of("environment", "subscription", "resourceGroup", "tenant", "deployment",
                "managementGroup", "az", "sys");
        for (var file : bicepFiles().entrySet()) {
            Matcher symbol = Pattern.compile("(?m)^(?:resource|param|var|module|output) (\\w+) ").matcher(file.getValue());
            while (symbol.find()) {
                assertFalse(functions.contains(symbol.group(1)), file.getKey() + ": symbol " + symbol.group(1) + " hides a function");
            }
        }
        assertEquals(Set.of("Microsoft.Resources/resourceGroups", "Microsoft.OperationalInsights/workspaces",
                "Microsoft.Insights/components", "Microsoft.KeyVault/vaults", "Microsoft.KeyVault/vaults/secrets",
                "Microsoft.Storage/storageAccounts", "Microsoft.Storage/storageAccounts/blobServices",
                "Microsoft.Storage/storageAccounts/blobServices/containers", "Microsoft.App/managedEnvironments",
                "Microsoft.App/sessionPools", "Microsoft.ManagedIdentity/userAssignedIdentities",
                "Microsoft.Authorization/roleAssignments", "Microsoft.App/containerApps", "Microsoft.EventGrid/topics",
                "Microsoft.EventGrid/topics/eventSubscriptions", "Microsoft.EventHub/namespaces",
                "Microsoft.EventHub/namespaces/eventhubs", "Microsoft.EventHub/namespaces/authorizationRules"), types.keySet());
    }

    @Test
    void everyParameterIsUsedAndEveryModuleGetsExactlyItsParameters() throws IOException {
        Map<String, String> files = bicepFiles();
        for (var file : files.entrySet()) {
            Matcher param = PARAM.matcher(file.getValue());
            while (param.find()) {
                String rest = file.getValue().replace(param.group(), "");
                assertTrue(Pattern.compile("\\b" + param.group(1) + "\\b").matcher(rest).find(),
                        file.getKey() + ": parameter " + param.group(1) + " is never used");
            }
        }
        String main = files.get("main.bicep");
        Matcher module = MODULE.matcher(main);
        int modules = 0;
        while (module.find()) {
            modules++;
            String target = files.get(module.group(2));
            assertTrue(target != null, module.group(2));
            Set<String> passed = keysAtDepthOne(block(main, main.indexOf("params: {", module.end()) + "params: ".length()));
            Map<String, Boolean> declared = new TreeMap<>();
            Matcher param = PARAM.matcher(target);
            while (param.find()) {
                declared.put(param.group(1), param.group(3) != null);
            }
            assertTrue(declared.keySet().containsAll(passed), module.group(1) + " gets undeclared parameters: " + passed);
            declared.forEach((name, hasDefault) -> assertTrue(hasDefault || passed.contains(name),
                    module.group(1) + " lacks parameter " + name));
            Set<String> outputs = names(OUTPUT, target);
            Matcher used = Pattern.compile("\\b" + module.group(1) + "\\.outputs\\.(\\w+)").matcher(main);
            while (used.find()) {
                assertTrue(outputs.contains(used.group(1)), module.group(1) + " has no output " + used.group(1));
            }
        }
        assertEquals(5, modules);
    }

    @Test
    void theAppsIdentityAndTheTopicGetExactlyTheBuiltInRoles() throws IOException {
        Map<String, String> files = bicepFiles();
        Set<String> guids = new TreeSet<>();
        files.values().forEach(f -> GUID.matcher(f).results().forEach(m -> guids.add(m.group())));
        assertEquals(ROLES.keySet(), guids, "only these built-in roles, by their real ids");
        String platform = files.get("modules/platform.bicep");
        for (String role : List.of("sessionExecutor", "blobDataContributor", "keyVaultSecretsUser")) {
            assertTrue(platform.contains("roleDefinitions', roles." + role + ")"), role + " is assigned");
        }
        assertTrue(platform.contains("scope: pools[i]") && platform.contains("range(0, length(sessionPools))"),
                "the executor role on every pool");
        assertTrue(platform.contains("scope: storage") && platform.contains("scope: vault"));
        assertEquals(7, count(String.join("\n", files.values()), "'Microsoft.Authorization/roleAssignments@"),
                "executor (one declaration over the pools), blob, secrets, the two topics' dead-letter writers,"
                        + " Event Hubs sender and receiver (one declaration over both), and AcrPull");
        // Scale-out: the app's identity sends and receives on the namespace, no more (the topics are made here).
        String eventHubs = files.get("modules/eventhubs.bicep");
        assertTrue(eventHubs.contains("roles.eventHubsDataSender\n  roles.eventHubsDataReceiver\n]: {"), "both data roles");
        assertTrue(eventHubs.contains("scope: namespace") && eventHubs.contains("principalId: identityPrincipalId"));
        assertFalse(eventHubs.contains("f526a384-b230-433a-b45c-95f59c4a2dec"), "no Data Owner");
        assertTrue(files.get("main.bicep").contains("identityPrincipalId: platform.outputs.identityPrincipalId"));
    }

    @Test
    void theRecipesSettingsAreKept() throws IOException {
        Map<String, String> files = bicepFiles();
        Map<String, String> defaults = new HashMap<>();
        Matcher param = PARAM.matcher(files.get("main.bicep"));
        while (param.find()) {
            defaults.put(param.group(1), param.group(4));
        }
        assertEquals("20", defaults.get("poolMaxSessions"));
        assertEquals("5", defaults.get("poolReadySessions"));
        assertEquals("300", defaults.get("poolCooldownSeconds"));
        assertEquals("'code-execution'", defaults.get("subjectBeginsWith"));
        assertTrue(files.get("main.bicep").contains("param includedEventTypes array = [\n  'io.sandstream.code.execute'\n]"));

        String platform = files.get("modules/platform.bicep");
        for (String expected : List.of("containerType: 'PythonLTS'", "poolManagementType: 'Dynamic'",
                "maxConcurrentSessions: poolMaxSessions", "readySessionInstances: poolReadySessions",
                "cooldownPeriodInSeconds: poolCooldownSeconds", "status: 'EgressDisabled'", "enableRbacAuthorization: true",
                "supportsHttpsTrafficOnly: true", "minimumTlsVersion: 'TLS1_2'", "'execution-results'", "'execution-logs'",
                "'deadletter'", "destination: 'log-analytics'", "WorkspaceResourceId: logs.id")) {
            assertTrue(platform.contains(expected), "platform.bicep: " + expected);
        }
        String events = files.get("modules/eventgrid.bicep");
        for (String expected : List.of("inputSchema: 'CloudEventSchemaV1_0'", "eventDeliverySchema: 'CloudEventSchemaV1_0'",
                "endpointType: 'WebHook'", "endpointUrl: 'https://${appFqdn}/events?code=${ingressKey}'",
                "subjectBeginsWith: subjectBeginsWith", "includedEventTypes: includedEventTypes",
                "maxDeliveryAttempts: maxDeliveryAttempts", "eventTimeToLiveInMinutes: eventTimeToLiveInMinutes",
                "endpointType: 'StorageBlob'", "blobContainerName: deadLetterContainerName")) {
            assertTrue(events.contains(expected), "eventgrid.bicep: " + expected);
        }
        assertTrue(platform.contains("output deadLetterContainerName string = containers[2].name"), "the third container");
        // The recipe's test event is in the Event Grid schema: a second topic takes it, to the same endpoint.
        String eventGrid = declaration(events, "resource eventGridWebhook ");
        assertTrue(events.contains("inputSchema: 'EventGridSchema'") && eventGrid.contains("eventDeliverySchema: 'EventGridSchema'"));
        assertTrue(eventGrid.contains("endpointUrl: 'https://${appFqdn}/events?code=${ingressKey}'"));
        assertTrue(eventGrid.contains("includedEventTypes: eventGridSchemaEventTypes"));
        assertTrue(files.get("main.bicep").contains("param eventGridSchemaEventTypes array = [\n  'Microsoft.EventGrid.ExecuteCode'\n]"));
        assertTrue(ConfigNames.bind(Map.of()).ingress().acceptedTypes().contains("Microsoft.EventGrid.ExecuteCode"),
                "the service accepts the type the topic delivers");
    }

    @Test
    void theAppIsConfiguredWithRealPropertiesAndTheSameProbes() throws Exception {
        String app = bicepFiles().get("modules/app.bicep");
        Map<String, String> env = env(app);
        // The single-replica topology is the default: the Kafka settings only come with scaleOut.
        env.keySet().removeAll(env(block(app, app.indexOf("var kafkaEnv = [") + "var kafkaEnv = ".length())).keySet());
        assertTrue(env.keySet().containsAll(List.of("SANDSTREAM_INGRESS_KEYS", "SANDSTREAM_API_KEYS", "SANDSTREAM_RESULTS_STORE",
                "SANDSTREAM_RESULTS_AZURE_ENDPOINT", "SANDSTREAM_ACA_POOLS_PYTHONLTS_ENDPOINT",
                "AZURE_CLIENT_ID", "QUARKUS_LOG_CONSOLE_JSON_ENABLED")), env.keySet().toString());
        assertEquals("true", env.get("QUARKUS_LOG_CONSOLE_JSON_ENABLED"), "JSON lines for Log Analytics");
        // Telemetry to Application Insights by the connection string alone (AzureMonitorExportTest):
        // nothing turns the SDK off, and no OTLP endpoint is named, so no OTLP exporter runs.
        assertEquals("from-appInsightsConnectionString", env.get("APPLICATIONINSIGHTS_CONNECTION_STRING"));
        assertFalse(env.keySet().stream().anyMatch(k -> k.startsWith("QUARKUS_OTEL_")), env.keySet().toString());
        assertEquals(Set.of(), ConfigNames.unknown(env.keySet()), "names no sandstream property maps to");
        Map<String, String> local = new HashMap<>(env);
        local.keySet().removeIf(k -> k.startsWith("SANDSTREAM_ACA_POOLS_"));
        SandstreamConfig config = ConfigNames.bind(local);
        assertEquals(SandstreamConfig.StoreKind.AZURE_BLOB, config.results().store());
        assertEquals(SandstreamConfig.JournalKind.SQLITE, config.journal().kind());
        assertEquals(0, config.pools().get("python").readySessions());
        assertEquals("python", env.get("SANDSTREAM_ACA_POOLS_PYTHONLTS_LANGUAGE"));
        // No NodeLTS container type exists (see theSessionPoolsHaveNamesAndTypesTheirApiVersionAccepts).
        assertFalse(env.keySet().stream().anyMatch(k -> k.startsWith("SANDSTREAM_ACA_POOLS_NODELTS_")));

        // Secrets come from the vault secrets platform.bicep (and, scaled out, eventhubs.bicep) creates.
        String vaultSecrets = bicepFiles().get("modules/platform.bicep") + bicepFiles().get("modules/eventhubs.bicep");
        Matcher secret = Pattern.compile("keyVaultUrl: '\\$\\{keyVaultUri\\}secrets/([\\w-]+)'").matcher(app);
        int secrets = 0;
        while (secret.find()) {
            secrets++;
            assertTrue(vaultSecrets.contains("name: '" + secret.group(1) + "'"), "vault secret " + secret.group(1));
            assertTrue(app.contains("secretRef: '" + secret.group(1) + "'"), "used: " + secret.group(1));
        }
        assertEquals(3, secrets);
        for (String probe : List.of("/q/health/started", "/q/health/live", "/q/health/ready")) {
            assertTrue(app.contains("httpGet: { path: '" + probe + "', port: 8080 }"), probe);
        }
        assertTrue(app.contains("targetPort: 8080"));
    }

    @Test
    void theScaleOutModeIsOptionalAndMatchesTheAppsKafkaConfiguration() throws Exception {
        Map<String, String> files = bicepFiles();
        String main = files.get("main.bicep");
        String eventHubs = files.get("modules/eventhubs.bicep");
        String app = files.get("modules/app.bicep");

        // On by default (durable); the namespace exists only when it is on.
        assertTrue(main.contains("param scaleOut bool = true"), "the durable mode is the default");
        assertTrue(main.contains("module eventHubs 'modules/eventhubs.bicep' = if (scaleOut) {"));
        for (String output : List.of("eventHubs.outputs.bootstrapServers", "eventHubs.outputs.namespaceName")) {
            Matcher use = Pattern.compile(Pattern.quote(output)).matcher(main);
            while (use.find()) {
                String before = main.substring(Math.max(0, use.start() - 11), use.start());
                assertEquals("scaleOut ? ", before, "a conditional module's outputs only behind its condition");
            }
        }

        // Topic names, group and partitions: the app's own defaults (sandstream.kafka.*).
        SandstreamConfig defaults = ConfigNames.bind(Map.of());
        String kafka = block(main, main.indexOf("var kafka = {") + "var kafka = ".length());
        assertTrue(kafka.contains("topicPrefix: '" + defaults.kafka().topicPrefix() + "'"), kafka);
        assertTrue(kafka.contains("groupId: '" + defaults.kafka().groupId() + "'"), kafka);
        assertTrue(kafka.contains("lanePartitions: " + defaults.kafka().lanePartitions()), kafka);
        // More replicas than a lane's partitions would sit idle.
        assertTrue(main.contains("@maxValue(" + defaults.kafka().lanePartitions() + ")\nparam scaleOutMaxReplicas int"));

        // Event Hubs: Standard (Kafka endpoint), the three lanes with lanePartitions, results with ONE,
        // the dead letters.
        assertTrue(eventHubs.contains("name: 'Standard'"));
        Matcher hub = Pattern.compile("(?m)^resource (\\w+) 'Microsoft.EventHub/namespaces/eventhubs@").matcher(eventHubs);
        Map<String, String> hubs = new TreeMap<>();
        while (hub.find()) {
            hubs.put(hub.group(1), declaration(eventHubs, "resource " + hub.group(1) + " "));
        }
        assertEquals(Set.of("lanes", "results", "sessions", "deadLetter", "live"), hubs.keySet());
        assertTrue(hubs.get("sessions").contains("name: '${topicPrefix}sessions'"), "the session directory");
        assertTrue(hubs.get("deadLetter").contains("name: '${topicPrefix}dead-letter'"), "the service does not create it here");
        assertTrue(hubs.get("live").contains("name: '${topicPrefix}live'"));
        assertTrue(hubs.get("live").contains("partitionCount: " + defaults.kafka().live().partitions() + "\n"),
                "the app's live partitions");
        assertTrue(eventHubs.contains("'high'\n  'normal'\n  'low'\n]: {"), "one hub per lane: " + LANES);
        assertTrue(hubs.get("lanes").contains("name: '${topicPrefix}${lane}'"));
        assertTrue(hubs.get("lanes").contains("partitionCount: lanePartitions"));
        assertTrue(hubs.get("results").contains("name: '${topicPrefix}results'"));
        assertEquals(1, count(hubs.get("results"), "partitionCount:"));
        assertTrue(hubs.get("results").contains("partitionCount: 1\n"), "the results topic's offsets number the SSE stream");
        assertTrue(eventHubs.contains("output bootstrapServers string = '") && eventHubs.contains(":9093'\n"), "Kafka's port");
        // KEDA's key reads, nothing more, and reaches the app through Key Vault only.
        assertTrue(eventHubs.contains("rights: [\n      'Listen'\n    ]"));
        assertTrue(eventHubs.contains("value: lagReader.listKeys().primaryConnectionString"));
        assertFalse(Pattern.compile("(?m)^output .*listKeys").matcher(eventHubs).find(), "no key in an output");

        // The app, scaled out: binds to the Kafka journal with Entra ID, creating no topics.
        Map<String, String> env = env(app);
        Map<String, String> kafkaEnv = env(block(app, app.indexOf("var kafkaEnv = [") + "var kafkaEnv = ".length()));
        assertEquals(Set.of("SANDSTREAM_JOURNAL_KIND", "SANDSTREAM_KAFKA_BOOTSTRAP_SERVERS", "SANDSTREAM_KAFKA_AUTH",
                "SANDSTREAM_KAFKA_CREATE_TOPICS", "SANDSTREAM_KAFKA_TOPIC_PREFIX", "SANDSTREAM_KAFKA_GROUP_ID"), kafkaEnv.keySet());
        assertEquals(Set.of(), ConfigNames.unknown(kafkaEnv.keySet()), "names no sandstream property maps to");
        assertEquals("from-kafkaBootstrapServers", kafkaEnv.get("SANDSTREAM_KAFKA_BOOTSTRAP_SERVERS"));
        assertEquals("from-kafkaTopicPrefix", kafkaEnv.get("SANDSTREAM_KAFKA_TOPIC_PREFIX"));
        assertEquals("from-kafkaGroupId", kafkaEnv.get("SANDSTREAM_KAFKA_GROUP_ID"));
        assertTrue(main.contains("kafkaBootstrapServers: scaleOut ? eventHubs.outputs.bootstrapServers : ''"));
        assertTrue(main.contains("kafkaTopicPrefix: kafka.topicPrefix") && main.contains("kafkaGroupId: kafka.groupId")
                && main.contains("topicPrefix: kafka.topicPrefix"), "the hubs and the app get the same names");
        Map<String, String> scaled = new HashMap<>(env);
        scaled.keySet().removeIf(k -> k.startsWith("SANDSTREAM_ACA_POOLS_"));
        scaled.put("SANDSTREAM_KAFKA_BOOTSTRAP_SERVERS", "evhns-sandstream-x.servicebus.windows.net:9093");
        scaled.put("SANDSTREAM_KAFKA_TOPIC_PREFIX", defaults.kafka().topicPrefix());
        scaled.put("SANDSTREAM_KAFKA_GROUP_ID", defaults.kafka().groupId());
        SandstreamConfig config = ConfigNames.bind(scaled);
        assertEquals(SandstreamConfig.JournalKind.KAFKA, config.journal().kind());
        assertEquals(SandstreamConfig.KafkaAuth.ENTRA, config.kafka().auth());
        assertFalse(config.kafka().createTopics(), "eventhubs.bicep owns the topics");
        assertTrue(env.containsKey("AZURE_CLIENT_ID"), "DefaultAzureCredential picks the app's identity");
        assertTrue(app.contains("], scaleOut ? kafkaEnv : [])") && app.contains("], scaleOut ? kafkaSecrets : [])"));

        // KEDA's kafka scale rules: one per lane topic, on the app's group, SASL PLAIN over TLS.
        String rules = declaration(app, "var kafkaScaleRules = [for lane in lanes: {");
        assertTrue(rules.contains("type: 'kafka'"));
        assertTrue(rules.contains("topic: '${kafkaTopicPrefix}${lane.name}'"));
        assertTrue(rules.contains("consumerGroup: kafkaGroupId"));
        assertTrue(rules.contains("bootstrapServers: kafkaBootstrapServers"));
        assertTrue(rules.contains("lagThreshold: string(lane.lagThreshold)"));
        assertTrue(rules.contains("offsetResetPolicy: 'earliest'"));
        assertTrue(rules.contains("sasl: 'plaintext'") && rules.contains("tls: 'enable'"));
        String lanes = block(app, app.indexOf("var lanes = [") + "var lanes = ".length());
        Matcher lane = Pattern.compile("\\{ name: '(\\w+)', lagThreshold: (\\d+) \\}").matcher(lanes);
        Map<String, Integer> thresholds = new LinkedHashMap<>();
        while (lane.find()) {
            thresholds.put(lane.group(1), Integer.parseInt(lane.group(2)));
        }
        assertEquals(LANES, List.copyOf(thresholds.keySet()));
        assertTrue(thresholds.get("high") < thresholds.get("normal") && thresholds.get("normal") <= thresholds.get("low"));
        String secrets = block(app, app.indexOf("var kafkaSecrets = [") + "var kafkaSecrets = ".length());
        assertTrue(secrets.contains("{ name: 'kafka-sasl-username', value: '$ConnectionString' }"), "Event Hubs' SASL user");
        for (String ref : List.of("kafka-sasl-username", "kafka-scaler-connection-string")) {
            assertTrue(rules.contains("secretRef: '" + ref + "'") && secrets.contains("name: '" + ref + "'"), ref);
        }
        // Two replicas at least when scaled out; exactly one otherwise.
        assertTrue(app.contains("scale: scaleOut ? {\n        minReplicas: 2\n        maxReplicas: scaleOutMaxReplicas\n"
                + "        rules: kafkaScaleRules\n      } : {\n        minReplicas: 1\n        maxReplicas: 1\n      }"), "scale");

        String deploy = Files.readString(DIR.resolve("deploy.sh"));
        assertTrue(deploy.contains("\"scaleOut\": os.environ[\"SCALE_OUT_BOOL\"] == \"true\"") && deploy.contains("Microsoft.EventHub")
                && deploy.contains("SCALE_OUT=${SCALE_OUT:-1}"), "deploy.sh: SCALE_OUT, on by default");
    }

    @Test
    void theScriptsPassEveryRequiredParameterAndAreClean() throws Exception {
        String deploy = Files.readString(DIR.resolve("deploy.sh"));
        Matcher param = PARAM.matcher(bicepFiles().get("main.bicep"));
        while (param.find()) {
            // Every required parameter, through the parameters file (none on az's command line).
            if (param.group(3) == null) {
                assertTrue(deploy.contains("\"" + param.group(1) + "\": "), "deploy.sh passes " + param.group(1));
            }
        }
        List<Path> scripts;
        try (Stream<Path> files = Files.walk(Path.of("kubernetes"))) {
            scripts = files.filter(p -> p.toString().endsWith(".sh")).sorted().toList();
        }
        assertEquals(List.of(Path.of("kubernetes/apply.sh"), DIR.resolve("cleanup.sh"), DIR.resolve("deploy.sh"), DIR.resolve("smoke.sh")),
                scripts);
        for (Path script : scripts) {
            assertEquals("", run("bash", "-n", script.toString()), script.toString());
            assertTrue(Files.isExecutable(script), script + " is executable");
        }
        assumeTrue(KubernetesManifestsTest.onPath("shellcheck"), "shellcheck is not installed");
        List<String> command = new ArrayList<>(List.of("shellcheck", "--severity=style"));
        scripts.forEach(s -> command.add(s.toString()));
        assertEquals("", run(command.toArray(String[]::new)), "shellcheck");
    }

    /**
     * ContainerAppProbe's ranges, from azure-rest-api-specs
     * specification/app/resource-manager/Microsoft.App/stable/2024-03-01/CommonDefinitions.json
     * (the containerApps API version app.bicep uses): failureThreshold 1-10, successThreshold 1-10,
     * initialDelaySeconds 1-60, periodSeconds 1-240, timeoutSeconds 1-240 (default 1 s, too short
     * here: every probe sets it). The startup probe still covers a slow start (60 s at least).
     */
    @Test
    void theProbesStayWithinTheContainerAppProbeRanges() throws IOException {
        String app = bicepFiles().get("modules/app.bicep");
        assertTrue(app.contains("resource app 'Microsoft.App/containerApps@2024-03-01'"), "the API version whose spec is cited");
        checkProbes(app);
        // The check fails where the platform would: the old threshold of 60, a delay past 60 s.
        assertThrows(AssertionError.class, () -> checkProbes(app.replace("failureThreshold: 10", "failureThreshold: 60")));
        assertThrows(AssertionError.class, () -> checkProbes(app.replace("initialDelaySeconds: 20", "initialDelaySeconds: 61")));
        assertThrows(AssertionError.class, () -> checkProbes(app.replaceFirst("timeoutSeconds: 3\n", "")));
    }

    static void checkProbes(String app) {
        Map<String, int[]> ranges = Map.of("failureThreshold", new int[] { 1, 10 }, "successThreshold", new int[] { 1, 10 },
                "initialDelaySeconds", new int[] { 1, 60 }, "periodSeconds", new int[] { 1, 240 },
                "timeoutSeconds", new int[] { 1, 240 });
        String probes = block(app, app.indexOf("probes: [") + "probes: ".length());
        Matcher probe = Pattern.compile("(?s)\\{\\s*type: '(\\w+)'(.*?)\\n            \\}").matcher(probes);
        Map<String, Map<String, Integer>> found = new TreeMap<>();
        while (probe.find()) {
            Map<String, Integer> values = new TreeMap<>();
            Matcher field = Pattern.compile("(?m)^\\s*(\\w+): (\\d+)$").matcher(probe.group(2));
            while (field.find()) {
                int[] range = ranges.get(field.group(1));
                assertTrue(range != null, "a ContainerAppProbe field: " + field.group(1));
                int value = Integer.parseInt(field.group(2));
                assertTrue(value >= range[0] && value <= range[1], probe.group(1) + " " + field.group(1) + " " + value
                        + " outside " + range[0] + "-" + range[1]);
                values.put(field.group(1), value);
            }
            assertTrue(values.containsKey("timeoutSeconds"), probe.group(1) + " sets timeoutSeconds (the default is 1 s)");
            found.put(probe.group(1), values);
        }
        assertEquals(Set.of("Liveness", "Readiness", "Startup"), found.keySet());
        Map<String, Integer> startup = found.get("Startup");
        int window = startup.getOrDefault("initialDelaySeconds", 0)
                + startup.getOrDefault("periodSeconds", 10) * startup.getOrDefault("failureThreshold", 3);
        assertTrue(window >= 60, "the startup probe waits " + window + " s for a slow start");
    }

    /** AcrPull for the app's identity on the registry, assigned before the app's first revision pulls. */
    @Test
    void theAppsIdentityMayPullItsImageBeforeTheAppExists() throws IOException {
        Map<String, String> files = bicepFiles();
        String acr = files.get("modules/acrpull.bicep");
        assertTrue(acr.contains("var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d'"), "the built-in AcrPull role");
        assertTrue(acr.contains("resource registry 'Microsoft.ContainerRegistry/registries@") && acr.contains("scope: registry"),
                "on the registry itself");
        assertTrue(acr.contains("roleDefinitions', acrPull)") && acr.contains("principalId: principalId"));
        String main = files.get("main.bicep");
        assertTrue(main.contains("var pullWithIdentity = !empty(registryServer)"));
        String module = declaration(main, "module acrPull 'modules/acrpull.bicep' = if (pullWithIdentity) {");
        assertTrue(module.contains("principalId: platform.outputs.identityPrincipalId"), "the app's identity");
        assertTrue(module.contains("registryName: split(registryServer, '.')[0]"));
        String app = declaration(main, "module app 'modules/app.bicep' = {");
        assertTrue(app.contains("dependsOn: [\n    acrPull\n  ]"), "the app waits for the role");
        assertTrue(main.indexOf("module acrPull ") < main.indexOf("module app "), "declared in the order it runs");
        // The app pulls with that identity from that registry.
        String appModule = files.get("modules/app.bicep");
        assertTrue(appModule.contains("server: registryServer\n          identity: identityId"));
    }

    /**
     * Microsoft.App/sessionPools in azure-rest-api-specs
     * specification/app/resource-manager/Microsoft.App/stable/2025-01-01/SessionPools.json: the name
     * matches ^[a-z][a-z0-9]*$ (3-63 characters), and containerType is CustomContainer or PythonLTS
     * (no NodeLTS; the same in preview/2025-02-02-preview/SessionPools.json).
     */
    @Test
    void theSessionPoolsHaveNamesAndTypesTheirApiVersionAccepts() throws Exception {
        Map<String, Set<String>> containerTypes = Map.of("2025-01-01", Set.of("CustomContainer", "PythonLTS"));
        Pattern name = Pattern.compile("^[a-z][a-z0-9]*$");
        String platform = bicepFiles().get("modules/platform.bicep");
        Matcher pools = Pattern.compile("resource pools 'Microsoft.App/sessionPools@([\\w-]+)'").matcher(platform);
        assertTrue(pools.find());
        Set<String> accepted = containerTypes.get(pools.group(1));
        assertTrue(accepted != null, "the enum of " + pools.group(1) + " is not recorded here: read its SessionPools.json");
        String list = block(platform, platform.indexOf("var sessionPools = [") + "var sessionPools = ".length());
        Matcher pool = Pattern.compile("\\{ name: '(\\w+)', containerType: '(\\w+)' \\}").matcher(list);
        Map<String, String> declared = new TreeMap<>();
        while (pool.find()) {
            declared.put(pool.group(1), pool.group(2));
        }
        assertFalse(declared.isEmpty());
        declared.values().forEach(type -> assertTrue(accepted.contains(type), "containerType " + type + " in " + pools.group(1)));
        assertTrue(platform.contains("name: '${toLower(namePrefix)}${pool.name}'"), "the pool's name");
        // Every prefix deploy.sh lets through gives names the pattern accepts; the others it refuses.
        for (String prefix : List.of("sandstream", "abc", "a1b2c3d4e5f")) {
            assertNotEquals(2, deployExitWith(Map.of("NAME_PREFIX", prefix)), prefix + " is accepted");
            declared.keySet().forEach(p -> {
                String full = prefix + p;
                assertTrue(name.matcher(full).matches() && full.length() >= 3 && full.length() <= 63, full);
            });
        }
        for (String prefix : List.of("Sandstream", "sand-stream", "1abc", "ab", "abcdefghijkl")) {
            assertEquals(2, deployExitWith(Map.of("NAME_PREFIX", prefix)), prefix + " is refused");
        }
        String main = bicepFiles().get("main.bicep");
        assertTrue(main.contains("@minLength(3)\n@maxLength(11)\nparam namePrefix string"));
    }

    /** Durable by default: Event Hubs holds the journal, and a stopping replica finishes its execution. */
    @Test
    void theDefaultModeKeepsWhatItAcknowledges() throws IOException {
        Map<String, String> files = bicepFiles();
        assertTrue(files.get("main.bicep").contains("param scaleOut bool = true"));
        Matcher grace = Pattern.compile("(?m)^      terminationGracePeriodSeconds: (\\d+)$").matcher(files.get("modules/app.bicep"));
        assertTrue(grace.find(), "the template sets its grace period");
        assertTrue(Integer.parseInt(grace.group(1)) >= 220, "longer than the longest execution: " + grace.group(1));
        long drainTimeout = ConfigNames.bind(Map.of()).shutdown().drainTimeout().toSeconds();
        assertTrue(Integer.parseInt(grace.group(1)) >= drainTimeout + KubernetesManifestsTest.CLOSING_SECONDS,
                "a stopping replica drains (sandstream.shutdown.drain-timeout " + drainTimeout + " s) within the grace period");
    }

    /**
     * deploy.sh: no key on a command line or on its output, and a re-run that rotates nothing: keys
     * only made when no vault exists, secrets only written when a key is given, a soft-deleted vault
     * recovered (or purged on request) before the deployment, purge protection in production.
     */
    @Test
    void theDeployScriptKeepsKeysSecretAndIsIdempotent() throws Exception {
        String deploy = Files.readString(DIR.resolve("deploy.sh"));
        checkKeyHandling(deploy);
        // The check catches the old ways: keys on az's command line, keys printed.
        assertThrows(AssertionError.class, () -> checkKeyHandling(deploy.replace("--parameters \"@$parameters\"",
                "--parameters \"@$parameters\" ingressKey=\"$INGRESS_KEY\"")));
        assertThrows(AssertionError.class, () -> checkKeyHandling(deploy + "\necho \"  API_KEY=$API_KEY\"\n"));
        assertThrows(AssertionError.class, () -> checkKeyHandling(deploy + "\nfor name in x; do echo \"${!name}\"; done\n"));
        assertThrows(AssertionError.class, () -> checkKeyHandling(deploy.replace("-H @<(printf 'aeg-sas-key: %s\\n' \"$topic_key\")",
                "-H \"aeg-sas-key: $topic_key\"")));

        // Keys made only on a first deploy; the vault's kept otherwise.
        String first = deploy.substring(deploy.indexOf("if [ -z \"$existing_vault\" ]; then"));
        first = first.substring(0, first.indexOf("\nfi\n"));
        assertTrue(first.contains("INGRESS_KEY=$(new_key)") && first.contains("API_KEY=$(new_key)"));
        assertEquals(1, count(deploy, "$(new_key)") / 2, "keys are made in one place only");
        String platform = bicepFiles().get("modules/platform.bicep");
        assertTrue(platform.contains("resource ingressKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(ingressKey))"));
        assertTrue(platform.contains("resource apiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(apiKey))"));
        String main = bicepFiles().get("main.bicep");
        assertTrue(main.contains("ingressKey: vault.getSecret('ingress-keys')"), "Event Grid gets the vault's key, given or kept");
        assertTrue(main.contains("param ingressKey string = ''") && main.contains("param apiKey string = ''"));
        // After cleanup.sh: the soft-deleted vault is recovered or purged, explicitly, before deploying.
        int recover = deploy.indexOf("az keyvault recover");
        int purge = deploy.indexOf("az keyvault purge");
        int create = deploy.indexOf("az deployment sub create");
        assertTrue(recover > 0 && purge > 0 && recover < create && purge < create, "recover or purge first");
        assertTrue(deploy.indexOf("az group create") < recover, "into its group, which must exist");
        assertTrue(platform.contains("enablePurgeProtection: productionMode ? true : null"), "purge protection in production");
        assertTrue(deploy.contains("\"productionMode\": os.environ[\"PRODUCTION_BOOL\"] == \"true\""));
    }

    static void checkKeyHandling(String deploy) {
        checkKeyHandling(deploy, true);
    }

    static void checkKeyHandling(String deploy, boolean deploys) {
        Pattern key = Pattern.compile("\\$\\{?(INGRESS_KEY|API_KEY|\\w+_key|!\\w+)\\b");
        for (String line : deploy.split("\n")) {
            String code = line.strip();
            if (code.startsWith("#") || !key.matcher(code).find()) {
                continue;
            }
            boolean assignment = code.matches("^(export )?[A-Z_a-z]+=.*") || code.startsWith("if [ -z \"$")
                    || code.startsWith("export ");
            boolean headerFile = code.matches(".*-H @<\\(printf '[\\w-]+: (Bearer )?%s\\\\n' \"\\$\\w+\"\\).*")
                    && !code.replaceAll("-H @<\\(printf '[^']*' \"\\$\\w+\"\\)", "").matches(".*" + key.pattern() + ".*");
            assertFalse(code.contains("echo") || code.contains("printf '%s") && !headerFile, "a key printed: " + code);
            assertTrue(assignment || headerFile, "a key on a command line: " + code);
        }
        if (!deploys) {
            return;
        }
        assertTrue(deploy.contains("--parameters \"@$parameters\""), "parameters from a file");
        assertTrue(deploy.contains("umask 077") && deploy.contains("trap 'rm -f \"$parameters\"' EXIT"), "a private, temporary file");
    }

    /**
     * deploy.sh awaits its test events through smoke.sh (SmokeScriptTest runs it against the
     * service), by the executionId the service derives from source and id: both derivations agree,
     * and the Event Grid schema event names its source (the topic's resource id, the only value
     * Event Grid takes) so the id is known before Event Grid delivers it.
     */
    @Test
    void theSmokeTestAwaitsTheExecutionIdTheServiceGives() throws Exception {
        for (String[] event : List.of(new String[] { "/deploy/smoke-test", "deploy-smoke-1733400000" },
                new String[] { "/ü/ñ", "id with spaces" })) {
            String python = run("python3", DIR.resolve("execution-id.py").toString(), event[0], event[1]).strip();
            assertEquals(io.sandstream.model.ExecutionIds.of(event[0], event[1]), python);
        }
        String smoke = Files.readString(DIR.resolve("smoke.sh"));
        assertTrue(smoke.contains("execution_id=$(python3 \"$here/execution-id.py\" \"$2\" \"$3\")"));
        assertTrue(smoke.contains("\"$app_url/executions/$execution_id\""));
        checkKeyHandling(smoke, false);
        String deploy = Files.readString(DIR.resolve("deploy.sh"));
        assertTrue(deploy.contains("\"source\":\"'\"$event_source\"'\"") && deploy.contains("\"id\":\"'\"$event_id\"'\""),
                "the CloudEvent carries the source and id the id is derived from");
        assertTrue(deploy.contains("\"$here/smoke.sh\" \"$app_url\" \"$event_source\" \"$event_id\""));
        // The recipe's own event, in the Event Grid schema, to the topic that takes that schema, with its topic set.
        assertTrue(deploy.contains("\"eventType\":\"Microsoft.EventGrid.ExecuteCode\"")
                && deploy.contains("$(output eventGridSchemaTopicEndpoint)"), "the recipe's test event");
        assertTrue(deploy.contains("eg_source=$(output eventGridSchemaTopicId)")
                && deploy.contains("\"id\":\"'\"$event_id\"'-eg\",\"topic\":\"'\"$eg_source\"'\""));
        assertTrue(deploy.contains("\"$here/smoke.sh\" \"$app_url\" \"$eg_source\" \"$event_id-eg\""));
        assertTrue(bicepFiles().get("modules/eventgrid.bicep").contains("output eventGridSchemaTopicId string = eventGridTopic.id"));
        assertTrue(deploy.lastIndexOf("smoke.sh\" ") > deploy.lastIndexOf("az deployment sub create"), "its last step");
    }

    /** azd (azure.yaml) deploys the same template, with parameters main.bicep has; CI runs every check. */
    @Test
    void azdAndCiUseTheSameTemplateAndChecks() throws Exception {
        var yaml = new com.fasterxml.jackson.dataformat.yaml.YAMLMapper();
        var azure = yaml.readTree(Path.of("azure.yaml").toFile());
        assertEquals("bicep", azure.at("/infra/provider").asText());
        assertEquals(DIR, Path.of(azure.at("/infra/path").asText()));
        assertTrue(Files.exists(DIR.resolve(azure.at("/infra/module").asText() + ".bicep")));
        var parameters = new com.fasterxml.jackson.databind.ObjectMapper().readTree(DIR.resolve("main.parameters.json").toFile())
                .get("parameters");
        Map<String, Boolean> declared = new TreeMap<>();
        Matcher param = PARAM.matcher(bicepFiles().get("main.bicep"));
        while (param.find()) {
            declared.put(param.group(1), param.group(3) != null);
        }
        parameters.fieldNames().forEachRemaining(n -> assertTrue(declared.containsKey(n), "main.bicep has " + n));
        declared.forEach((n, hasDefault) -> assertTrue(hasDefault || parameters.has(n), "azd passes " + n));
        assertTrue(azure.at("/hooks/preprovision/run").asText().contains("azd env set SANDSTREAM_IMAGE"), "the image is built first");

        String ci = Files.readString(Path.of(".github/workflows/ci.yml"));
        yaml.readTree(ci);
        for (String step : List.of(".ci/run", "kubectl kustomize", "validate-schemas.mjs", "az bicep build",
                "az deployment sub what-if", "file: src/main/docker/Dockerfile.jvm", "anchore/sbom-action", "cosign sign",
                "cosign attest", "shellcheck")) {
            assertTrue(ci.contains(step), "CI: " + step);
        }
    }

    /** Runs deploy.sh against a stub az that answers nothing: exit 2 is a refused input; anything else got past the checks. */
    private static int deployExitWith(Map<String, String> env) throws Exception {
        Path bin = Files.createTempDirectory("fake-az");
        Path az = bin.resolve("az");
        Files.writeString(az, "#!/bin/sh\nexit 0\n");
        az.toFile().setExecutable(true);
        ProcessBuilder pb = new ProcessBuilder("bash", DIR.resolve("deploy.sh").toString());
        pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
        pb.environment().put("IMAGE", "registry.example/sandstream:1a2b3c4");
        pb.environment().put("LOCATION", "westeurope");
        pb.environment().put("SMOKE_TEST", "0");
        pb.environment().putAll(env);
        Process p = pb.redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        p.waitFor();
        return p.exitValue();
    }

    // ---- helpers --------------------------------------------------------------------------------

    private static Map<String, String> bicepFiles() throws IOException {
        Map<String, String> files = new TreeMap<>();
        try (Stream<Path> paths = Files.walk(DIR)) {
            for (Path p : paths.filter(p -> p.toString().endsWith(".bicep")).toList()) {
                files.put(DIR.relativize(p).toString(), withoutComments(Files.readString(p)));
            }
        }
        assertEquals(Set.of("main.bicep", "modules/platform.bicep", "modules/app.bicep", "modules/eventgrid.bicep",
                "modules/eventhubs.bicep", "modules/acrpull.bicep"), files.keySet());
        return files;
    }

    /** Drops {@code //} comments outside of '...' strings (URLs in strings keep their slashes). */
    static String withoutComments(String bicep) {
        StringBuilder out = new StringBuilder();
        for (String line : bicep.split("\n", -1)) {
            boolean quoted = false;
            int cut = line.length();
            for (int i = 0; i < line.length(); i++) {
                char c = line.charAt(i);
                if (c == '\\' && quoted) {
                    i++;
                } else if (c == '\'') {
                    quoted = !quoted;
                } else if (!quoted && c == '/' && i + 1 < line.length() && line.charAt(i + 1) == '/') {
                    cut = i;
                    break;
                }
            }
            out.append(line, 0, cut).append('\n');
        }
        return out.toString();
    }

    /** The text of the {...} (or [...]) block starting at {@code open}. */
    private static String block(String text, int open) {
        assertTrue(open >= 0 && (text.charAt(open) == '{' || text.charAt(open) == '['), "a block at " + open);
        int depth = 0;
        for (int i = open; i < text.length(); i++) {
            char c = text.charAt(i);
            depth += c == '{' || c == '[' ? 1 : c == '}' || c == ']' ? -1 : 0;
            if (depth == 0) {
                return text.substring(open + 1, i);
            }
        }
        throw new AssertionError("unbalanced braces");
    }

    /** A top-level declaration ("resource name ..."), up to its closing line ("}" or "}]"). */
    private static String declaration(String text, String start) {
        Matcher m = Pattern.compile("(?ms)^" + Pattern.quote(start) + ".*?^\\}\\]?$").matcher(text);
        assertTrue(m.find(), start);
        return m.group();
    }

    private static Set<String> keysAtDepthOne(String block) {
        Set<String> keys = new TreeSet<>();
        int depth = 0;
        for (String line : block.split("\n")) {
            Matcher key = Pattern.compile("^\\s*(\\w+):").matcher(line);
            if (depth == 0 && key.find()) {
                keys.add(key.group(1));
            }
            for (char c : line.toCharArray()) {
                depth += c == '{' || c == '[' ? 1 : c == '}' || c == ']' ? -1 : 0;
            }
        }
        return keys;
    }

    /** The environment variables ({ name: 'X', value: ... }) in a text: literal values, or from-EXPRESSION. */
    private static Map<String, String> env(String text) {
        Map<String, String> env = new LinkedHashMap<>();
        Matcher variable = ENV.matcher(text);
        while (variable.find()) {
            env.put(variable.group(1), variable.group(4) != null ? variable.group(4) : "from-" + variable.group(3).trim());
        }
        return env;
    }

    private static Set<String> names(Pattern pattern, String text) {
        Set<String> names = new TreeSet<>();
        pattern.matcher(text).results().forEach(m -> names.add(m.group(1)));
        return names;
    }

    private static int count(String text, String needle) {
        return text.split(Pattern.quote(needle), -1).length - 1;
    }

    private static String run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return p.exitValue() == 0 ? output : "exit " + p.exitValue() + ": " + output;
    }
}
