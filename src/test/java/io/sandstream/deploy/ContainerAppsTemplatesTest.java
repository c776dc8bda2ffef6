package io.sandstream.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
            "a638d3c7-ab3a-418d-83e6-5f17a39d4fde", "Azure Event Hubs Data Receiver");

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
        assertEquals(4, modules);
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
        assertTrue(platform.contains("scope: pools[i]") && platform.contains("range(0, 2)"), "the executor role on both pools");
        assertTrue(platform.contains("scope: storage") && platform.contains("scope: vault"));
        assertEquals(5, count(String.join("\n", files.values()), "'Microsoft.Authorization/roleAssignments@"),
                "executor (one declaration over both pools), blob, secrets, the topic's dead-letter writer, and"
                        + " Event Hubs sender and receiver (one declaration over both)");
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
        for (String expected : List.of("containerType: 'PythonLTS'", "containerType: 'NodeLTS'", "poolManagementType: 'Dynamic'",
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
    }

    @Test
    void theAppIsConfiguredWithRealPropertiesAndTheSameProbes() throws Exception {
        String app = bicepFiles().get("modules/app.bicep");
        Map<String, String> env = env(app);
        // The single-replica topology is the default: the Kafka settings only come with scaleOut.
        env.keySet().removeAll(env(block(app, app.indexOf("var kafkaEnv = [") + "var kafkaEnv = ".length())).keySet());
        assertTrue(env.keySet().containsAll(List.of("SANDSTREAM_INGRESS_KEYS", "SANDSTREAM_API_KEYS", "SANDSTREAM_RESULTS_STORE",
                "SANDSTREAM_RESULTS_AZURE_ENDPOINT", "SANDSTREAM_ACA_POOLS_PYTHONLTS_ENDPOINT", "SANDSTREAM_ACA_POOLS_NODELTS_ENDPOINT",
                "AZURE_CLIENT_ID")), env.keySet().toString());
        assertEquals(Set.of(), ConfigNames.unknown(env.keySet()), "names no sandstream property maps to");
        Map<String, String> local = new HashMap<>(env);
        local.keySet().removeIf(k -> k.startsWith("SANDSTREAM_ACA_POOLS_"));
        SandstreamConfig config = ConfigNames.bind(local);
        assertEquals(SandstreamConfig.StoreKind.AZURE_BLOB, config.results().store());
        assertEquals(SandstreamConfig.JournalKind.SQLITE, config.journal().kind());
        assertEquals(0, config.pools().get("python").readySessions());
        assertEquals("python", env.get("SANDSTREAM_ACA_POOLS_PYTHONLTS_LANGUAGE"));
        assertEquals("javascript", env.get("SANDSTREAM_ACA_POOLS_NODELTS_LANGUAGE"));

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

        // Off by default (one replica, SQLite journal); the namespace exists only when it is on.
        assertTrue(main.contains("param scaleOut bool = false"));
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

        // Event Hubs: Standard (Kafka endpoint), the three lanes with lanePartitions, results with ONE.
        assertTrue(eventHubs.contains("name: 'Standard'"));
        Matcher hub = Pattern.compile("(?m)^resource (\\w+) 'Microsoft.EventHub/namespaces/eventhubs@").matcher(eventHubs);
        Map<String, String> hubs = new TreeMap<>();
        while (hub.find()) {
            hubs.put(hub.group(1), declaration(eventHubs, "resource " + hub.group(1) + " "));
        }
        assertEquals(Set.of("lanes", "results"), hubs.keySet());
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
        assertTrue(deploy.contains(" scaleOut=\"$scale_out\"") && deploy.contains("Microsoft.EventHub"), "deploy.sh: SCALE_OUT");
    }

    @Test
    void theScriptsPassEveryRequiredParameterAndAreClean() throws Exception {
        String deploy = Files.readString(DIR.resolve("deploy.sh"));
        Matcher param = PARAM.matcher(bicepFiles().get("main.bicep"));
        while (param.find()) {
            if (param.group(3) == null) {
                assertTrue(deploy.contains(" " + param.group(1) + "=\""), "deploy.sh passes " + param.group(1));
            }
        }
        List<Path> scripts;
        try (Stream<Path> files = Files.walk(Path.of("kubernetes"))) {
            scripts = files.filter(p -> p.toString().endsWith(".sh")).sorted().toList();
        }
        assertEquals(List.of(Path.of("kubernetes/apply.sh"), DIR.resolve("cleanup.sh"), DIR.resolve("deploy.sh")), scripts);
        for (Path script : scripts) {
            assertEquals("", run("bash", "-n", script.toString()), script.toString());
            assertTrue(Files.isExecutable(script), script + " is executable");
        }
        assumeTrue(KubernetesManifestsTest.onPath("shellcheck"), "shellcheck is not installed");
        List<String> command = new ArrayList<>(List.of("shellcheck", "--severity=style"));
        scripts.forEach(s -> command.add(s.toString()));
        assertEquals("", run(command.toArray(String[]::new)), "shellcheck");
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
                "modules/eventhubs.bicep"), files.keySet());
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
