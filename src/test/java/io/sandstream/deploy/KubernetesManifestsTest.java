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
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import io.sandstream.config.ConfigNames;
import io.sandstream.config.SandstreamConfig;

/**
 * Every manifest under {@code kubernetes/} parses, and the deployment's invariants hold: probes on
 * the health endpoints, non-root, limits, an image pinned by variable, egress restricted to DNS and
 * HTTPS, HPA/PDB/Service/NetworkPolicy aimed at the StatefulSet, configuration names that exist.
 * Durable by default: a StatefulSet with a claim per replica, a preStop drain and a grace period
 * longer than the longest execution, an HPA only with the Kafka journal; memory sized coherently;
 * pool-API sessions routed by identifier; ingress only from named peers; egress to what the
 * service reaches (Entra ID, dynamicsessions.io, an OTLP collector), never the private ranges.
 * Where kubectl is installed, each overlay is rendered with kustomize and checked the same way; the
 * scaled overlays (Kafka journal) also for their Kafka settings, and overlays/scaled-keda for a
 * KEDA ScaledObject that matches them (and no HPA beside it). Where kubernetes-models is installed
 * (.ci/setup), the rendered objects are validated against the Kubernetes OpenAPI schemas, and KEDA's
 * against its CRD schemas where @kubernetes-models/keda is installed too.
 */
class KubernetesManifestsTest {

    private static final Path ROOT = Path.of("kubernetes");
    private static final YAMLMapper YAML = new YAMLMapper();
    private static final String IMAGE_VARIABLE = "${IMAGE}:${IMAGE_TAG}";
    private static final String BOOTSTRAP_VARIABLE = "${KAFKA_BOOTSTRAP_SERVERS}";
    private static final List<String> LANES = List.of("high", "normal", "low");
    /** The kinds of every rendering; an HPA, or KEDA's objects in its place. */
    private static final Set<String> COMMON_KINDS = Set.of("Namespace", "ServiceAccount", "ConfigMap", "StatefulSet",
            "Service", "Ingress", "PodDisruptionBudget", "NetworkPolicy");
    /** The kinds of which a rendering has two: the Service and its headless twin, the two Ingresses. */
    private static final Set<String> PAIRED_KINDS = Set.of("Service", "Ingress");
    /** Longest execution (API.md: timeoutSeconds at most 220): a pod stopping must be able to finish it. */
    private static final int LONGEST_EXECUTION_SECONDS = 220;
    /** What a drained instance takes to leave: the final commit, leaving the group, closing its clients. */
    static final int CLOSING_SECONDS = 15;
    private static final Set<String> KEDA_KINDS = Set.of("ScaledObject", "TriggerAuthentication", "Secret");

    @Test
    void baseManifestsHoldTheInvariants() throws Exception {
        List<JsonNode> objects = new ArrayList<>();
        JsonNode kustomization = YAML.readTree(ROOT.resolve("base/kustomization.yaml").toFile());
        for (JsonNode resource : kustomization.get("resources")) {
            objects.addAll(parse(Files.readString(ROOT.resolve("base").resolve(resource.asText()))));
        }
        checkInvariants(objects);
    }

    @Test
    void everyYamlFileParses() throws IOException {
        try (Stream<Path> files = Files.walk(ROOT)) {
            List<Path> yamls = files.filter(p -> p.toString().endsWith(".yaml")).toList();
            assertTrue(yamls.size() >= 10, yamls.toString());
            for (Path yaml : yamls) {
                assertFalse(parse(Files.readString(yaml)).isEmpty(), yaml + " has a document");
            }
        }
    }

    @Test
    void everyOverlayRendersWithKustomizeAndHoldsTheInvariants() throws Exception {
        assumeTrue(onPath("kubectl"), "kubectl (kustomize) is not installed");
        for (String target : targets()) {
            List<JsonNode> objects = parse(render(target));
            SandstreamConfig config = checkInvariants(objects);
            objects.forEach(o -> assertEquals(o.at("/kind").asText().equals("Namespace") ? "" : "sandstream",
                    o.at("/metadata/namespace").asText(), target + " " + o.at("/kind").asText()));
            String runtimeClass = deployment(objects).at("/spec/template/spec/runtimeClassName").asText();
            assertEquals(Map.of("base", "", "overlays/gvisor", "gvisor", "overlays/kata", "kata-vm-isolation",
                    "overlays/scaled", "", "overlays/scaled-keda", "").get(target), runtimeClass, target);
            boolean scaled = target.startsWith("overlays/scaled");
            assertEquals(scaled ? SandstreamConfig.JournalKind.KAFKA : SandstreamConfig.JournalKind.SQLITE,
                    config.journal().kind(), target);
            assertEquals(target.equals("overlays/scaled-keda"), kinds(objects).contains("ScaledObject"), target);
        }
    }

    @Test
    void theKedaChecksCatchAScaledObjectThatDisagreesWithThePods() throws Exception {
        assumeTrue(onPath("kubectl"), "kubectl (kustomize) is not installed");
        List<JsonNode> rendered = parse(render("overlays/scaled-keda"));
        checkInvariants(copy(rendered));
        JsonNode hpa = parse(Files.readString(ROOT.resolve("overlays/scaled/hpa.yaml"))).get(0);
        Map<String, Consumer<List<JsonNode>>> mutations = new LinkedHashMap<>();
        mutations.put("an HPA beside the ScaledObject", objects -> objects.add(hpa.deepCopy()));
        mutations.put("another consumer group", objects -> trigger(objects, 0).put("consumerGroup", "other"));
        mutations.put("a lane without a trigger", objects -> ((ArrayNode) only(objects, "ScaledObject").at("/spec/triggers")).remove(2));
        mutations.put("another topic prefix in the pods", objects -> ((ObjectNode) only(objects,
                "ConfigMap").at("/data")).put("SANDSTREAM_KAFKA_TOPIC_PREFIX", "prod-"));
        mutations.put("a number where KEDA takes a string", objects -> trigger(objects, 1).put("lagThreshold", 200));
        mutations.put("other bootstrap servers", objects -> trigger(objects, 2).put("bootstrapServers", "kafka:9092"));
        mutations.put("no replica left", objects -> ((ObjectNode) only(objects,
                "ScaledObject").at("/spec")).put("minReplicaCount", 0));
        mutations.put("another target", objects -> ((ObjectNode) only(objects,
                "ScaledObject").at("/spec/scaleTargetRef")).put("name", "other"));
        mutations.put("a password the pods do not use", objects -> ((ObjectNode) only(objects,
                "TriggerAuthentication").at("/spec/secretTargetRef/1")).put("key", "other"));
        for (var mutation : mutations.entrySet()) {
            List<JsonNode> objects = copy(rendered);
            mutation.getValue().accept(objects);
            assertThrows(AssertionError.class, () -> checkInvariants(objects), mutation.getKey());
        }
    }

    private static ObjectNode trigger(List<JsonNode> objects, int index) {
        return (ObjectNode) only(objects, "ScaledObject").at("/spec/triggers/" + index + "/metadata");
    }

    private static List<JsonNode> copy(List<JsonNode> objects) {
        List<JsonNode> copy = new ArrayList<>();
        objects.forEach(o -> copy.add(o.deepCopy()));
        return copy;
    }

    @Test
    void renderedObjectsMatchTheKubernetesSchemas() throws Exception {
        assumeTrue(onPath("kubectl") && onPath("node"), "kubectl and node are needed");
        Path tools = Path.of(System.getenv().getOrDefault("SANDSTREAM_TOOLS_DIR",
                System.getProperty("user.home") + "/.cache/sandstream-tools"));
        assumeTrue(Files.isDirectory(tools.resolve("node_modules/kubernetes-models")), "kubernetes-models is not installed");
        for (String target : targets()) {
            ArrayNode objects = YAML.createArrayNode();
            parse(render(target)).forEach(objects::add);
            String output = validate(tools, objects, 0);
            // Every object, KEDA's too (.ci/setup installs @kubernetes-models/keda beside kubernetes-models).
            assertEquals(objects.size(), output.lines().filter(l -> l.startsWith("valid ")).count(), output);
        }
    }

    /** Strict: a field no schema declares (hostUser for hostUsers) fails, at any depth, KEDA's too. */
    @Test
    void theSchemaCheckRejectsUnknownFields() throws Exception {
        assumeTrue(onPath("kubectl") && onPath("node"), "kubectl and node are needed");
        Path tools = tools();
        assumeTrue(Files.isDirectory(tools.resolve("node_modules/kubernetes-models")), "kubernetes-models is not installed");
        List<JsonNode> rendered = parse(render("overlays/scaled-keda"));
        Map<String, Consumer<List<JsonNode>>> typos = new LinkedHashMap<>();
        typos.put("/spec/template/spec/hostUser", objects -> ((ObjectNode) deployment(objects).at("/spec/template/spec")).put("hostUser", false));
        typos.put("/spec/template/spec/containers/0/securityContext/procMont", objects -> ((ObjectNode) deployment(objects)
                .at("/spec/template/spec/containers/0/securityContext")).put("procMont", "Unmasked"));
        typos.put("/spec/ingres", objects -> ((ObjectNode) only(objects, "NetworkPolicy").at("/spec")).set("ingres",
                YAML.createArrayNode()));
        typos.put("/spec/triggers/0/metadta", objects -> ((ObjectNode) only(objects, "ScaledObject").at("/spec/triggers/0"))
                .set("metadta", YAML.createObjectNode()));
        for (var typo : typos.entrySet()) {
            List<JsonNode> objects = copy(rendered);
            typo.getValue().accept(objects);
            ArrayNode array = YAML.createArrayNode();
            objects.forEach(array::add);
            String output = validate(tools, array, 1);
            assertTrue(output.contains("unknown field(s): " + typo.getKey()), output);
        }
    }

    private static Path tools() {
        return Path.of(System.getenv().getOrDefault("SANDSTREAM_TOOLS_DIR",
                System.getProperty("user.home") + "/.cache/sandstream-tools"));
    }

    private static String validate(Path tools, ArrayNode objects, int expectedExit) throws Exception {
        Process validate = new ProcessBuilder("node", ROOT.resolve("validate-schemas.mjs").toString(), tools.toString())
                .redirectErrorStream(true).start();
        validate.getOutputStream().write(new ObjectMapper().writeValueAsBytes(objects));
        validate.getOutputStream().close();
        String output = new String(validate.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(validate.waitFor(60, TimeUnit.SECONDS));
        assertEquals(expectedExit, validate.exitValue(), output);
        return output;
    }

    /**
     * Issue 21, point 11: console logs are text for a person at a terminal (the packaged jar's prod
     * profile included, so a generated key is printed on lines of its own, not inside a JSON string),
     * and JSON lines where a log collector reads them: both images and the base ConfigMap ask for it.
     */
    @Test
    void consoleLogsAreTextByDefaultAndJsonWhereTheDeploymentsAsk() throws Exception {
        java.util.Properties properties = new java.util.Properties();
        try (var in = Files.newInputStream(Path.of("src/main/resources/application.properties"))) {
            properties.load(in);
        }
        assertEquals("false", properties.getProperty("quarkus.log.console.json.enabled"), "text by default");
        for (String profile : List.of("prod", "dev")) {
            assertNotEquals("true", properties.getProperty("%" + profile + ".quarkus.log.console.json.enabled"), profile);
        }
        for (String dockerfile : List.of("src/main/docker/Dockerfile.jvm", "src/main/docker/Dockerfile.native")) {
            assertTrue(Files.readString(Path.of(dockerfile)).contains("QUARKUS_LOG_CONSOLE_JSON_ENABLED=true"), dockerfile);
        }
        JsonNode configMap = YAML.readTree(ROOT.resolve("base/configmap.yaml").toFile());
        assertEquals("true", configMap.at("/data/QUARKUS_LOG_CONSOLE_JSON_ENABLED").asText(), "the ConfigMap");
    }

    @Test
    void applyScriptFillsInThePinnedImageAndRefusesLatest() throws Exception {
        assumeTrue(onPath("kubectl"), "kubectl (kustomize) is not installed");
        ProcessBuilder ok = new ProcessBuilder("bash", ROOT.resolve("apply.sh").toString(), "overlays/kata", "--render");
        ok.environment().put("IMAGE", "registry.example/sandstream");
        ok.environment().put("IMAGE_TAG", "1a2b3c4");
        Process render = ok.redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String output = new String(render.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, render.waitFor());
        assertEquals("registry.example/sandstream:1a2b3c4",
                deployment(parse(output)).at("/spec/template/spec/containers/0/image").asText());
        assertFalse(output.contains("${"), "no placeholder is left");

        // The scaled overlays: the bootstrap servers are filled in everywhere, or nothing renders.
        ProcessBuilder scaled = new ProcessBuilder("bash", ROOT.resolve("apply.sh").toString(), "overlays/scaled-keda", "--render");
        scaled.environment().put("IMAGE", "registry.example/sandstream");
        scaled.environment().put("IMAGE_TAG", "1a2b3c4");
        scaled.environment().put("KAFKA_BOOTSTRAP_SERVERS", "example.servicebus.windows.net:9093");
        Process renderScaled = scaled.redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String scaledOutput = new String(renderScaled.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, renderScaled.waitFor());
        assertFalse(scaledOutput.contains("${"), "no placeholder is left");
        List<JsonNode> scaledObjects = parse(scaledOutput);
        assertEquals("example.servicebus.windows.net:9093", only(scaledObjects, "ConfigMap")
                .at("/data/SANDSTREAM_KAFKA_BOOTSTRAP_SERVERS").asText());
        only(scaledObjects, "ScaledObject").at("/spec/triggers").forEach(t -> assertEquals(
                "example.servicebus.windows.net:9093", t.at("/metadata/bootstrapServers").asText(), t.toString()));
        for (String servers : List.of("", "host-without-port", "a:9093;rm -rf /", "a:9093\n  evil: x")) {
            ProcessBuilder refused = new ProcessBuilder("bash", ROOT.resolve("apply.sh").toString(), "overlays/scaled", "--render");
            refused.environment().put("IMAGE", "registry.example/sandstream");
            refused.environment().put("IMAGE_TAG", "1a2b3c4");
            if (!servers.isEmpty()) {
                refused.environment().put("KAFKA_BOOTSTRAP_SERVERS", servers);
            } else {
                refused.environment().remove("KAFKA_BOOTSTRAP_SERVERS");
            }
            Process p = refused.redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            assertNotEquals(0, p.waitFor(), "bootstrap servers '" + servers + "' are refused");
        }

        for (String tag : List.of("latest", "", "1.0;rm")) {
            ProcessBuilder refused = new ProcessBuilder("bash", ROOT.resolve("apply.sh").toString(), "--render");
            refused.environment().put("IMAGE", "registry.example/sandstream");
            refused.environment().put("IMAGE_TAG", tag);
            Process p = refused.redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            assertNotEquals(0, p.waitFor(), "tag '" + tag + "' is refused");
        }
    }

    // ---- the invariants ------------------------------------------------------------------------

    /** Checks one rendering (base's files, or an overlay) and returns its configuration, bound. */
    private static SandstreamConfig checkInvariants(List<JsonNode> objects) throws Exception {
        Map<String, JsonNode> byKind = new LinkedHashMap<>();
        Map<String, JsonNode> paired = new LinkedHashMap<>();
        for (JsonNode o : objects) {
            String kind = o.get("kind").asText();
            if (PAIRED_KINDS.contains(kind)) {
                assertTrue(paired.put(kind + "/" + o.at("/metadata/name").asText(), o) == null, "one " + kind + " of a name");
                if (!o.at("/metadata/name").asText().equals("sandstream")) {
                    continue;
                }
            }
            assertTrue(byKind.put(kind, o) == null, "one " + kind);
        }
        assertEquals(Set.of("Service/sandstream", "Service/sandstream-pods", "Ingress/sandstream", "Ingress/sandstream-pools"),
                paired.keySet());
        // KEDA makes an HPA of its own from the ScaledObject: a second one would fight it.
        boolean keda = byKind.containsKey("ScaledObject");
        assertFalse(keda && byKind.containsKey("HorizontalPodAutoscaler"), "no HPA beside KEDA's ScaledObject");
        boolean autoscaled = keda || byKind.containsKey("HorizontalPodAutoscaler");
        Set<String> expectedKinds = new TreeSet<>(COMMON_KINDS);
        expectedKinds.addAll(keda ? KEDA_KINDS : autoscaled ? Set.of("HorizontalPodAutoscaler") : Set.of());
        assertEquals(expectedKinds, new TreeSet<>(byKind.keySet()));
        JsonNode deployment = byKind.get("StatefulSet");
        JsonNode pod = deployment.at("/spec/template/spec");
        JsonNode podLabels = deployment.at("/spec/template/metadata/labels");
        assertEquals(1, pod.get("containers").size());
        JsonNode container = pod.at("/containers/0");

        // Probes on the health endpoints, on the container's port.
        assertEquals("http", container.at("/ports/0/name").asText());
        assertEquals(8080, container.at("/ports/0/containerPort").asInt());
        for (String[] probe : List.of(new String[] { "startupProbe", "/q/health/started" },
                new String[] { "livenessProbe", "/q/health/live" }, new String[] { "readinessProbe", "/q/health/ready" })) {
            assertEquals(probe[1], container.at("/" + probe[0] + "/httpGet/path").asText(), probe[0]);
            assertEquals("http", container.at("/" + probe[0] + "/httpGet/port").asText(), probe[0]);
        }

        // Non-root, nothing privileged, only the two capabilities sandstream-setuid uses (run as its group).
        for (JsonNode context : List.of(pod.get("securityContext"), container.get("securityContext"))) {
            assertTrue(context.at("/runAsNonRoot").asBoolean(), context.toString());
            assertTrue(context.at("/runAsUser").asInt() > 0, context.toString());
        }
        JsonNode security = container.get("securityContext");
        assertFalse(security.at("/privileged").asBoolean());
        assertTrue(security.at("/readOnlyRootFilesystem").asBoolean());
        assertEquals("[\"ALL\"]", security.at("/capabilities/drop").toString());
        assertEquals("[\"SETUID\",\"SETGID\"]", security.at("/capabilities/add").toString());
        assertFalse(pod.at("/hostUsers").asBoolean(true), "the pod has a user namespace of its own");
        assertEquals(10001, pod.at("/securityContext/runAsGroup").asInt(), "the group that may run sandstream-setuid");
        assertFalse(pod.at("/hostNetwork").asBoolean() || pod.at("/hostPID").asBoolean() || pod.at("/hostIPC").asBoolean());
        assertFalse(pod.at("/automountServiceAccountToken").asBoolean(true));
        assertEquals("Unmasked", security.at("/procMount").asText(), "bubblewrap mounts a fresh /proc");

        // Requests and limits for CPU and memory; requests within limits.
        for (String resource : List.of("cpu", "memory")) {
            assertFalse(container.at("/resources/requests/" + resource).asText().isEmpty(), "request " + resource);
            assertFalse(container.at("/resources/limits/" + resource).asText().isEmpty(), "limit " + resource);
        }
        assertTrue(quantity(container.at("/resources/requests/memory").asText())
                <= quantity(container.at("/resources/limits/memory").asText()));

        // The image: pinned by variable (apply.sh fills it in), never a floating tag.
        String image = container.get("image").asText();
        assertEquals(IMAGE_VARIABLE, image);
        assertFalse(image.endsWith(":latest"));

        // Every volume mount has its volume (or claim template); the read-only root needs /tmp and the data dir writable.
        Set<String> volumes = new TreeSet<>();
        pod.get("volumes").forEach(v -> volumes.add(v.get("name").asText()));
        deployment.at("/spec/volumeClaimTemplates").forEach(v -> assertTrue(volumes.add(v.at("/metadata/name").asText()),
                "a claim template and a volume of one name: " + v));
        Set<String> mounts = new TreeSet<>();
        container.get("volumeMounts").forEach(m -> {
            assertTrue(volumes.contains(m.get("name").asText()), m.toString());
            mounts.add(m.get("mountPath").asText());
        });
        assertEquals(Set.of("/tmp", "/var/lib/sandstream"), mounts);

        // Configuration: the ConfigMap's and the env's names are real properties, and their values bind.
        JsonNode configMap = byKind.get("ConfigMap");
        assertEquals(configMap.at("/metadata/name").asText(), container.at("/envFrom/0/configMapRef/name").asText());
        Map<String, String> env = new HashMap<>();
        configMap.get("data").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
        Map<String, JsonNode> envEntries = new HashMap<>();
        container.get("env").forEach(e -> {
            envEntries.put(e.get("name").asText(), e);
            env.put(e.get("name").asText(), "secret-value");
            if (e.has("valueFrom")) {
                // Secrets from the one Secret, or the pod's own name (downward API), nothing else.
                if (e.at("/valueFrom").has("fieldRef")) {
                    assertEquals("metadata.name", e.at("/valueFrom/fieldRef/fieldPath").asText(), e.toString());
                } else {
                    assertEquals("sandstream-secrets", e.at("/valueFrom/secretKeyRef/name").asText(), e.toString());
                }
            }
        });
        env.put("SANDSTREAM_RESULTS_AZURE_CONNECTION_STRING", "UseDevelopmentStorage=true");
        assertEquals(Set.of(), ConfigNames.unknown(env.keySet()), "names no sandstream property maps to");
        // The bootstrap servers are a placeholder like the image (apply.sh fills both in); SmallRye
        // would read ${...} as an expression, so bind what apply.sh would produce.
        String bootstrap = env.get("SANDSTREAM_KAFKA_BOOTSTRAP_SERVERS");
        if (bootstrap != null) {
            assertEquals(BOOTSTRAP_VARIABLE, bootstrap, "bootstrap servers filled in by apply.sh");
            env.put("SANDSTREAM_KAFKA_BOOTSTRAP_SERVERS", "example.servicebus.windows.net:9093");
        }
        env.values().forEach(v -> assertFalse(v.contains("${"), "an unfilled placeholder: " + v));
        SandstreamConfig config = ConfigNames.bind(env);
        assertTrue(config.pools().get("python").readySessions() <= config.pools().get("python").maxSessions());
        assertEquals(300, config.pools().get("python").cooldown().toSeconds());
        // Sandbox uids (4096 from first-uid) inside the pod's 65536 and clear of the service's own uid.
        int firstUid = config.sessions().firstUid();
        assertTrue(firstUid > container.at("/securityContext/runAsUser").asInt() && firstUid + 4096 <= 65536, "first-uid " + firstUid);

        // Service, HPA, PDB and NetworkPolicy all aim at this StatefulSet's pods.
        String name = deployment.at("/metadata/name").asText();
        assertSelects(byKind.get("Service").at("/spec/selector"), podLabels);
        assertEquals("http", byKind.get("Service").at("/spec/ports/0/targetPort").asText());
        boolean kafka = config.journal().kind() == SandstreamConfig.JournalKind.KAFKA;
        checkDurability(deployment, kafka, config);
        checkMemory(container, config, env);
        checkRouting(paired, podLabels);
        int minReplicas;
        int maxReplicas;
        if (autoscaled) {
            // The HPA, or KEDA's ScaledObject in its place, scales this StatefulSet; only with Kafka.
            assertTrue(kafka, "an autoscaler removes replicas: only with the Kafka journal, whose pods hold nothing of their own");
            JsonNode scaler = keda ? byKind.get("ScaledObject") : byKind.get("HorizontalPodAutoscaler");
            assertEquals("StatefulSet", scaler.at("/spec/scaleTargetRef/kind").asText());
            assertEquals("apps/v1", scaler.at("/spec/scaleTargetRef/apiVersion").asText());
            assertEquals(name, scaler.at("/spec/scaleTargetRef/name").asText());
            minReplicas = scaler.at(keda ? "/spec/minReplicaCount" : "/spec/minReplicas").asInt();
            maxReplicas = scaler.at(keda ? "/spec/maxReplicaCount" : "/spec/maxReplicas").asInt();
            assertFalse(deployment.at("/spec").has("replicas"), "the autoscaler owns the replica count");
        } else {
            assertFalse(kafka, "the Kafka journal's overlays scale");
            minReplicas = deployment.at("/spec/replicas").asInt();
            maxReplicas = minReplicas;
        }
        assertTrue(minReplicas >= 1 && minReplicas <= maxReplicas, "replicas " + minReplicas + ".." + maxReplicas);
        JsonNode pdb = byKind.get("PodDisruptionBudget");
        assertSelects(pdb.at("/spec/selector/matchLabels"), podLabels);
        int evictable = pdb.at("/spec").has("maxUnavailable") ? pdb.at("/spec/maxUnavailable").asInt()
                : minReplicas - pdb.at("/spec/minAvailable").asInt();
        assertTrue(evictable >= 1, "a drain can always evict one pod");
        JsonNode policy = byKind.get("NetworkPolicy");
        assertSelects(policy.at("/spec/podSelector/matchLabels"), podLabels);
        checkIngress(policy, podLabels);
        checkEgress(policy, kafka);
        assertEquals("privileged", byKind.get("Namespace").at("/metadata/labels/pod-security.kubernetes.io~1enforce").asText());

        if (kafka) {
            checkKafka(config, envEntries, minReplicas, maxReplicas);
            if (keda) {
                checkKeda(byKind, config, envEntries);
            }
        } else {
            assertFalse(keda, "KEDA scales on Kafka lag: only with the Kafka journal");
            env.keySet().forEach(k -> assertFalse(k.startsWith("SANDSTREAM_KAFKA_"), "a Kafka setting without Kafka: " + k));
        }
        return config;
    }

    /** The Kafka journal: interchangeable pods that need no volume of their own, two at least. */
    private static void checkKafka(SandstreamConfig config, Map<String, JsonNode> env, int minReplicas, int maxReplicas) {
        assertEquals("example.servicebus.windows.net:9093", config.kafka().bootstrapServers().orElseThrow());
        assertTrue(minReplicas >= 2, "scale-out keeps two replicas at least, not " + minReplicas);
        assertTrue(maxReplicas <= config.kafka().lanePartitions(),
                "more replicas than a lane's partitions would sit idle: " + maxReplicas);
        // Each pod names itself after the pod (unique, and stable for the pod's life).
        assertEquals("metadata.name", env.get("SANDSTREAM_KAFKA_INSTANCE_ID").at("/valueFrom/fieldRef/fieldPath").asText());
        // The connection string comes from the Secret, optional: entra and none need none.
        JsonNode connectionString = env.get("SANDSTREAM_KAFKA_CONNECTION_STRING").at("/valueFrom/secretKeyRef");
        assertEquals("sandstream-secrets", connectionString.at("/name").asText());
        assertEquals("kafka-connection-string", connectionString.at("/key").asText());
        assertTrue(connectionString.at("/optional").asBoolean(), "optional: entra and none need no connection string");
        assertEquals(SandstreamConfig.KafkaAuth.CONNECTION_STRING, config.kafka().auth());
    }

    /** KEDA's ScaledObject: one kafka trigger per lane topic of this configuration, on its group. */
    private static void checkKeda(Map<String, JsonNode> byKind, SandstreamConfig config, Map<String, JsonNode> env) {
        JsonNode scaledObject = byKind.get("ScaledObject");
        assertEquals("keda.sh/v1alpha1", scaledObject.at("/apiVersion").asText());
        assertTrue(scaledObject.at("/spec/minReplicaCount").isInt() && scaledObject.at("/spec/maxReplicaCount").isInt());
        JsonNode triggers = scaledObject.at("/spec/triggers");
        Map<String, Integer> thresholds = new HashMap<>();
        String authName = byKind.get("TriggerAuthentication").at("/metadata/name").asText();
        for (JsonNode trigger : triggers) {
            assertEquals("kafka", trigger.at("/type").asText(), trigger.toString());
            JsonNode metadata = trigger.at("/metadata");
            // KEDA's metadata is a map of strings: a bare 50 is refused by the CRD.
            metadata.fields().forEachRemaining(f -> assertTrue(f.getValue().isTextual(), "a string: " + f.getKey()));
            assertEquals(BOOTSTRAP_VARIABLE, metadata.at("/bootstrapServers").asText(), "the pods' bootstrap servers");
            assertEquals(config.kafka().groupId(), metadata.at("/consumerGroup").asText(), "the pods' consumer group");
            // The lanes' consumers start a new group at the beginning; so does KEDA's lag.
            assertEquals("earliest", metadata.at("/offsetResetPolicy").asText());
            // Event Hubs' Kafka endpoint: SASL PLAIN over TLS.
            assertEquals("plaintext", metadata.at("/sasl").asText());
            assertEquals("enable", metadata.at("/tls").asText());
            assertEquals(authName, trigger.at("/authenticationRef/name").asText());
            int threshold = Integer.parseInt(metadata.at("/lagThreshold").asText());
            assertTrue(threshold > 0);
            assertTrue(thresholds.put(metadata.at("/topic").asText(), threshold) == null, "one trigger per topic");
        }
        Set<String> laneTopics = new TreeSet<>();
        LANES.forEach(lane -> laneTopics.add(config.kafka().topicPrefix() + lane));
        assertEquals(laneTopics, new TreeSet<>(thresholds.keySet()), "a trigger for each lane topic, and no other");
        String prefix = config.kafka().topicPrefix();
        assertTrue(thresholds.get(prefix + "high") < thresholds.get(prefix + "normal")
                && thresholds.get(prefix + "normal") <= thresholds.get(prefix + "low"), "high scales first: " + thresholds);

        // The trigger's credentials: Event Hubs' "$ConnectionString" user and the pods' connection string.
        Map<String, JsonNode> refs = new HashMap<>();
        byKind.get("TriggerAuthentication").at("/spec/secretTargetRef").forEach(r -> refs.put(r.at("/parameter").asText(), r));
        assertEquals(Set.of("username", "password"), refs.keySet());
        JsonNode password = refs.get("password");
        JsonNode podSecret = env.get("SANDSTREAM_KAFKA_CONNECTION_STRING").at("/valueFrom/secretKeyRef");
        assertEquals(podSecret.at("/name").asText(), password.at("/name").asText());
        assertEquals(podSecret.at("/key").asText(), password.at("/key").asText());
        JsonNode username = refs.get("username");
        JsonNode userSecret = byKind.get("Secret");
        assertEquals(userSecret.at("/metadata/name").asText(), username.at("/name").asText());
        assertEquals("$ConnectionString", userSecret.at("/stringData/" + username.at("/key").asText()).asText());
        assertEquals(Set.of("username"), fieldNames(userSecret.at("/stringData")), "nothing secret in the repository");
        assertFalse(userSecret.has("data"));
    }

    /**
     * Durability: every replica's journal on a claim of its own (volumeClaimTemplates, the data mount
     * never an emptyDir), kept when scaled down; a preStop drain; and a grace period that covers the
     * drain plus the longest execution, and the preStop wait plus the service's own drain timeout
     * ({@code sandstream.shutdown.drain-timeout}) plus closing, so the kubelet never SIGKILLs a drain.
     */
    static void checkDurability(JsonNode statefulSet, boolean kafka, SandstreamConfig config) {
        assertEquals("StatefulSet", statefulSet.at("/kind").asText());
        assertFalse(statefulSet.at("/spec/serviceName").asText().isEmpty(), "a governing Service");
        JsonNode pod = statefulSet.at("/spec/template/spec");
        JsonNode container = pod.at("/containers/0");
        String dataVolume = null;
        for (JsonNode mount : container.get("volumeMounts")) {
            if (mount.at("/mountPath").asText().equals("/var/lib/sandstream")) {
                dataVolume = mount.at("/name").asText();
            }
        }
        assertEquals("data", dataVolume, "the data directory is mounted");
        JsonNode claim = null;
        for (JsonNode template : statefulSet.at("/spec/volumeClaimTemplates")) {
            if (template.at("/metadata/name").asText().equals(dataVolume)) {
                claim = template;
            }
        }
        assertTrue(claim != null, "the data directory is a claim per replica, not a volume all pods share or lose");
        assertEquals("[\"ReadWriteOnce\"]", claim.at("/spec/accessModes").toString(), "SQLite needs a disk of its own");
        for (JsonNode volume : pod.get("volumes")) {
            assertNotEquals(dataVolume, volume.at("/name").asText(), "no pod volume hides the claim");
        }
        assertEquals("Retain", statefulSet.at("/spec/persistentVolumeClaimRetentionPolicy/whenScaled").asText(kafka ? "Retain" : ""),
                "a replica scaled away keeps the events it accepted");
        JsonNode preStop = container.at("/lifecycle/preStop");
        assertFalse(preStop.isMissingNode(), "a preStop drain");
        List<String> command = new ArrayList<>();
        preStop.at("/exec/command").forEach(c -> command.add(c.asText()));
        assertEquals(2, command.size(), "preStop: sleep SECONDS, " + command);
        assertEquals("sleep", command.get(0));
        int drain = Integer.parseInt(command.get(1));
        assertTrue(drain >= 5, "long enough for the endpoints to drop the pod: " + drain);
        int grace = pod.at("/terminationGracePeriodSeconds").asInt();
        assertTrue(grace >= drain + LONGEST_EXECUTION_SECONDS,
                "grace " + grace + " s covers the drain (" + drain + " s) and the longest execution");
        long drainTimeout = config.shutdown().drainTimeout().toSeconds();
        assertTrue(grace >= drain + drainTimeout + CLOSING_SECONDS, "grace " + grace + " s covers the preStop wait ("
                + drain + " s), sandstream.shutdown.drain-timeout (" + drainTimeout + " s) and closing");
        // Every probe says how long it waits (the default second is too short on a loaded node).
        for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
            assertTrue(container.at("/" + probe + "/timeoutSeconds").asInt() >= 2, probe + " timeoutSeconds");
        }
    }

    /**
     * Memory: requested at its limit (no overcommit, no eviction first under pressure), and the limit
     * holds the heap (MaxRAMPercentage of it), 512 MiB outside the heap, and every session at its limit.
     */
    static void checkMemory(JsonNode container, SandstreamConfig config, Map<String, String> env) {
        long limit = quantity(container.at("/resources/limits/memory").asText());
        assertEquals(limit, quantity(container.at("/resources/requests/memory").asText()), "memory requested at its limit");
        String javaOptions = env.getOrDefault("JAVA_TOOL_OPTIONS", "");
        java.util.regex.Matcher percent = java.util.regex.Pattern.compile("-XX:MaxRAMPercentage=(\\d+)").matcher(javaOptions);
        assertTrue(percent.find(), "the heap is sized explicitly: " + javaOptions);
        long heap = limit * Integer.parseInt(percent.group(1)) / 100;
        long sessions = 0;
        for (var pool : config.pools().entrySet()) {
            sessions += (long) pool.getValue().maxSessions() * pool.getValue().limits().memoryMib() << 20;
        }
        long nonHeap = 512L << 20;
        assertTrue(heap + nonHeap + sessions <= limit, "heap " + (heap >> 20) + " MiB + non-heap " + (nonHeap >> 20)
                + " MiB + sessions " + (sessions >> 20) + " MiB fit in the limit " + (limit >> 20) + " MiB");
    }

    /**
     * Routing: no ClientIP affinity (it sees the ingress controller, not the client); the pool API
     * routed by a consistent hash of its identifier parameter; the rest to any replica.
     */
    static void checkRouting(Map<String, JsonNode> paired, JsonNode podLabels) {
        JsonNode service = paired.get("Service/sandstream");
        assertFalse("ClientIP".equals(service.at("/spec/sessionAffinity").asText()), "no ClientIP affinity");
        JsonNode headless = paired.get("Service/sandstream-pods");
        assertEquals("None", headless.at("/spec/clusterIP").asText(), "the StatefulSet's Service is headless");
        assertSelects(headless.at("/spec/selector"), podLabels);
        JsonNode pools = paired.get("Ingress/sandstream-pools");
        assertEquals("$arg_identifier", pools.at("/metadata/annotations/nginx.ingress.kubernetes.io~1upstream-hash-by").asText(),
                "pool-API sessions routed by their identifier");
        assertEquals("/pools/", pools.at("/spec/rules/0/http/paths/0/path").asText());
        JsonNode rest = paired.get("Ingress/sandstream");
        assertTrue(rest.at("/metadata/annotations/nginx.ingress.kubernetes.io~1upstream-hash-by").isMissingNode(),
                "intake spreads over every replica");
        for (JsonNode ingress : List.of(pools, rest)) {
            assertEquals(service.at("/metadata/name").asText(),
                    ingress.at("/spec/rules/0/http/paths/0/backend/service/name").asText());
        }
    }

    /** Ingress: only the HTTP port, and only from named peers (never every namespace). */
    static void checkIngress(JsonNode policy, JsonNode podLabels) {
        JsonNode ingress = policy.at("/spec/ingress");
        assertTrue(ingress.isArray() && ingress.size() > 0, "ingress is restricted");
        for (JsonNode rule : ingress) {
            assertTrue(rule.has("from") && rule.get("from").size() > 0, "every ingress rule names its peers: " + rule);
            rule.get("from").forEach(peer -> {
                assertFalse(peer.has("ipBlock"), "peers by selector: " + peer);
                boolean namespaces = peer.has("namespaceSelector");
                JsonNode selector = namespaces ? peer.at("/namespaceSelector/matchLabels") : peer.at("/podSelector/matchLabels");
                assertTrue(selector.size() > 0, "an empty selector admits everything: " + peer);
                if (!namespaces) {
                    assertSelects(selector, podLabels);
                }
            });
            Set<Integer> ports = new TreeSet<>();
            rule.get("ports").forEach(p -> ports.add(p.get("port").asInt()));
            assertEquals(Set.of(8080), ports, rule.toString());
        }
    }

    /**
     * Egress: DNS to kube-dns; HTTPS to listed address blocks or to the public internet with the
     * private and link-local ranges cut out (Entra ID and *.dynamicsessions.io have no ranges to
     * list); OTLP to a collector by namespace. With the Kafka journal also Event Hubs' Kafka port
     * (9093), to listed address blocks.
     */
    private static void checkEgress(JsonNode policy, boolean kafka) {
        List<String> types = new ArrayList<>();
        policy.at("/spec/policyTypes").forEach(t -> types.add(t.asText()));
        assertTrue(types.contains("Egress"), "egress is restricted");
        JsonNode egress = policy.at("/spec/egress");
        assertTrue(egress.isArray() && egress.size() > 0);
        int kafkaRules = 0;
        boolean publicHttps = false;
        boolean otlp = false;
        for (JsonNode rule : egress) {
            assertTrue(rule.has("to") && rule.get("to").size() > 0, "every egress rule names its peers: " + rule);
            assertTrue(rule.has("ports") && rule.get("ports").size() > 0, "every egress rule names its ports: " + rule);
            Set<Integer> ports = new TreeSet<>();
            rule.get("ports").forEach(p -> ports.add(p.get("port").asInt()));
            if (ports.contains(53)) {
                assertEquals(Set.of(53), ports, rule.toString());
                rule.get("to").forEach(peer -> assertEquals("kube-dns", peer.at("/podSelector/matchLabels/k8s-app").asText()));
            } else if (ports.equals(Set.of(4317, 4318))) {
                // OTLP: to a collector's namespace, never to addresses.
                rule.get("to").forEach(peer -> assertTrue(peer.at("/namespaceSelector/matchLabels").size() > 0, "OTLP to a namespace: " + peer));
                otlp = true;
            } else if (kafka && ports.equals(Set.of(8080))) {
                // Session calls forwarded to the replica that owns the session: to the other replicas only.
                rule.get("to").forEach(peer -> assertEquals("sandstream",
                        peer.at("/podSelector/matchLabels/app.kubernetes.io~1name").asText(), "to the replicas only: " + peer));
                assertEquals(1, rule.get("to").size(), rule.toString());
            } else {
                assertTrue(ports.equals(Set.of(443)) || kafka && ports.equals(Set.of(9093)),
                        "only HTTPS, OTLP (and Kafka with the Kafka journal) leave the pod: " + rule);
                for (JsonNode peer : rule.get("to")) {
                    String cidr = peer.at("/ipBlock/cidr").asText();
                    assertFalse(cidr.isEmpty(), "HTTPS only to address blocks: " + peer);
                    if (cidr.endsWith("/0")) {
                        assertEquals(Set.of(443), ports, "the public internet on HTTPS only: " + rule);
                        Set<String> except = new TreeSet<>();
                        peer.at("/ipBlock/except").forEach(e -> except.add(e.asText()));
                        assertTrue(except.containsAll(Set.of("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")),
                                "the public internet, not the private ranges or the metadata address: " + except);
                        publicHttps = true;
                    }
                }
                kafkaRules += ports.contains(9093) ? 1 : 0;
            }
        }
        assertEquals(kafka ? 1 : 0, kafkaRules, "a Kafka egress rule exactly with the Kafka journal");
        assertTrue(publicHttps, "HTTPS to Entra ID (workload identity) and *.dynamicsessions.io, which have no fixed ranges");
        assertTrue(otlp, "OTLP to a collector");
    }

    private static void assertSelects(JsonNode selector, JsonNode labels) {
        assertTrue(selector.size() > 0, "empty selector");
        selector.fields().forEachRemaining(e -> assertEquals(e.getValue(), labels.get(e.getKey()), "selects " + e.getKey()));
    }

    private static JsonNode deployment(List<JsonNode> objects) {
        return only(objects, "StatefulSet");
    }

    private static JsonNode only(List<JsonNode> objects, String kind) {
        List<JsonNode> found = objects.stream().filter(o -> o.at("/kind").asText().equals(kind)).toList();
        assertEquals(1, found.size(), "one " + kind);
        return found.get(0);
    }

    private static Set<String> kinds(List<JsonNode> objects) {
        Set<String> kinds = new TreeSet<>();
        objects.forEach(o -> kinds.add(o.at("/kind").asText()));
        return kinds;
    }

    private static Set<String> fieldNames(JsonNode node) {
        Set<String> names = new TreeSet<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    private static long quantity(String value) {
        Map<String, Long> units = Map.of("Ki", 1L << 10, "Mi", 1L << 20, "Gi", 1L << 30);
        for (var unit : units.entrySet()) {
            if (value.endsWith(unit.getKey())) {
                return Long.parseLong(value.substring(0, value.length() - 2)) * unit.getValue();
            }
        }
        return Long.parseLong(value);
    }

    private static List<String> targets() throws IOException {
        List<String> targets = new ArrayList<>(List.of("base"));
        try (Stream<Path> overlays = Files.list(ROOT.resolve("overlays"))) {
            overlays.sorted().forEach(o -> targets.add("overlays/" + o.getFileName()));
        }
        assertEquals(List.of("base", "overlays/gvisor", "overlays/kata", "overlays/scaled", "overlays/scaled-keda"), targets);
        return targets;
    }

    private static String render(String target) throws Exception {
        Process p = new ProcessBuilder("kubectl", "kustomize", ROOT.resolve(target).toString())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "kubectl kustomize " + target);
        return output;
    }

    static List<JsonNode> parse(String yaml) throws IOException {
        List<JsonNode> documents = new ArrayList<>();
        try (var parser = new YAMLFactory().createParser(yaml)) {
            YAML.readValues(parser, JsonNode.class).forEachRemaining(d -> {
                if (d != null && !d.isNull() && !d.isMissingNode()) {
                    documents.add(d);
                }
            });
        }
        return documents;
    }

    static boolean onPath(String command) {
        return Stream.of(System.getenv("PATH").split(":")).anyMatch(dir -> Files.isExecutable(Path.of(dir, command)));
    }
}
