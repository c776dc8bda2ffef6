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
 * pass every required parameter and shellcheck.
 */
class ContainerAppsTemplatesTest {

    private static final Path DIR = Path.of("kubernetes/containerapps");
    private static final Pattern RESOURCE = Pattern.compile("(?m)^resource (\\w+) '([\\w./]+)@([\\w-]+)'( existing)? =");
    private static final Pattern PARAM = Pattern.compile("(?m)^param (\\w+) (\\w+)( = (.*))?$");
    private static final Pattern OUTPUT = Pattern.compile("(?m)^output (\\w+) ");
    private static final Pattern MODULE = Pattern.compile("(?m)^module (\\w+) '([^']+)' = \\{");
    private static final Pattern GUID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /** The built-in roles, by the GUID Azure gives them in every tenant. */
    private static final Map<String, String> ROLES = Map.of(
            "0fb8eba5-a2bb-4abe-b1c1-49dfad359bb0", "Azure ContainerApps Session Executor",
            "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Storage Blob Data Contributor",
            "4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User");

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
                "Microsoft.EventGrid/topics/eventSubscriptions"), types.keySet());
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
        assertEquals(3, modules);
    }

    @Test
    void theAppsIdentityAndTheTopicGetExactlyTheBuiltInRoles() throws IOException {
        Map<String, String> files = bicepFiles();
        Set<String> guids = new TreeSet<>();
        files.values().forEach(f -> GUID.matcher(f).results().forEach(m -> guids.add(m.group())));
        assertEquals(ROLES.keySet(), guids, "only the three built-in roles, by their real ids");
        String platform = files.get("modules/platform.bicep");
        for (String role : List.of("sessionExecutor", "blobDataContributor", "keyVaultSecretsUser")) {
            assertTrue(platform.contains("roleDefinitions', roles." + role + ")"), role + " is assigned");
        }
        assertTrue(platform.contains("scope: pools[i]") && platform.contains("range(0, 2)"), "the executor role on both pools");
        assertTrue(platform.contains("scope: storage") && platform.contains("scope: vault"));
        assertEquals(4, count(String.join("\n", files.values()), "'Microsoft.Authorization/roleAssignments@"),
                "executor (one declaration over both pools), blob, secrets, and the topic's dead-letter writer");
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
        Map<String, String> env = new LinkedHashMap<>();
        Matcher variable = Pattern.compile("\\{ name: '([A-Z0-9_]+)', (value|secretRef): ('([^']*)'|[^}]*?) \\}").matcher(app);
        while (variable.find()) {
            env.put(variable.group(1), variable.group(4) != null ? variable.group(4) : "from-" + variable.group(3).trim());
        }
        assertTrue(env.keySet().containsAll(List.of("SANDSTREAM_INGRESS_KEYS", "SANDSTREAM_API_KEYS", "SANDSTREAM_RESULTS_STORE",
                "SANDSTREAM_RESULTS_AZURE_ENDPOINT", "SANDSTREAM_ACA_POOLS_PYTHONLTS_ENDPOINT", "SANDSTREAM_ACA_POOLS_NODELTS_ENDPOINT",
                "AZURE_CLIENT_ID")), env.keySet().toString());
        assertEquals(Set.of(), ConfigNames.unknown(env.keySet()), "names no sandstream property maps to");
        Map<String, String> local = new HashMap<>(env);
        local.keySet().removeIf(k -> k.startsWith("SANDSTREAM_ACA_POOLS_"));
        SandstreamConfig config = ConfigNames.bind(local);
        assertEquals(SandstreamConfig.StoreKind.AZURE_BLOB, config.results().store());
        assertEquals(0, config.pools().get("python").readySessions());
        assertEquals("python", env.get("SANDSTREAM_ACA_POOLS_PYTHONLTS_LANGUAGE"));
        assertEquals("javascript", env.get("SANDSTREAM_ACA_POOLS_NODELTS_LANGUAGE"));

        // Secrets come from the vault secrets platform.bicep creates.
        String platform = bicepFiles().get("modules/platform.bicep");
        Matcher secret = Pattern.compile("keyVaultUrl: '\\$\\{keyVaultUri\\}secrets/([\\w-]+)'").matcher(app);
        int secrets = 0;
        while (secret.find()) {
            secrets++;
            assertTrue(platform.contains("name: '" + secret.group(1) + "'"), "vault secret " + secret.group(1));
            assertTrue(app.contains("secretRef: '" + secret.group(1) + "'"), "used: " + secret.group(1));
        }
        assertEquals(2, secrets);
        for (String probe : List.of("/q/health/started", "/q/health/live", "/q/health/ready")) {
            assertTrue(app.contains("httpGet: { path: '" + probe + "', port: 8080 }"), probe);
        }
        assertTrue(app.contains("targetPort: 8080"));
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
        assertEquals(Set.of("main.bicep", "modules/platform.bicep", "modules/app.bicep", "modules/eventgrid.bicep"), files.keySet());
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

    /** The text of the {...} block starting at {@code open}. */
    private static String block(String text, int open) {
        assertEquals('{', text.charAt(open));
        int depth = 0;
        for (int i = open; i < text.length(); i++) {
            depth += text.charAt(i) == '{' ? 1 : text.charAt(i) == '}' ? -1 : 0;
            if (depth == 0) {
                return text.substring(open + 1, i);
            }
        }
        throw new AssertionError("unbalanced braces");
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
