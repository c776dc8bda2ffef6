package io.sandstream.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import io.sandstream.config.ConfigNames;
import io.sandstream.config.SandstreamConfig;

/**
 * Every manifest under {@code kubernetes/} parses, and the deployment's invariants hold: probes on
 * the health endpoints, non-root, limits, an image pinned by variable, egress restricted to DNS and
 * HTTPS, HPA/PDB/Service/NetworkPolicy aimed at the Deployment, configuration names that exist.
 * Where kubectl is installed, each overlay is rendered with kustomize and checked the same way;
 * where kubernetes-models is installed (.ci/setup), the rendered objects are validated against the
 * Kubernetes OpenAPI schemas.
 */
class KubernetesManifestsTest {

    private static final Path ROOT = Path.of("kubernetes");
    private static final YAMLMapper YAML = new YAMLMapper();
    private static final String IMAGE_VARIABLE = "${IMAGE}:${IMAGE_TAG}";

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
            assertEquals(8, objects.size(), target);
            checkInvariants(objects);
            objects.forEach(o -> assertEquals(o.at("/kind").asText().equals("Namespace") ? "" : "sandstream",
                    o.at("/metadata/namespace").asText(), target + " " + o.at("/kind").asText()));
            String runtimeClass = deployment(objects).at("/spec/template/spec/runtimeClassName").asText();
            assertEquals(Map.of("base", "", "overlays/gvisor", "gvisor", "overlays/kata", "kata-vm-isolation").get(target),
                    runtimeClass, target);
        }
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
            Process validate = new ProcessBuilder("node", ROOT.resolve("validate-schemas.mjs").toString(), tools.toString())
                    .redirectErrorStream(true).start();
            validate.getOutputStream().write(new ObjectMapper().writeValueAsBytes(objects));
            validate.getOutputStream().close();
            String output = new String(validate.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(validate.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, validate.exitValue(), target + ":\n" + output);
            assertEquals(objects.size(), output.lines().filter(l -> l.startsWith("valid ")).count(), output);
        }
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

    private static void checkInvariants(List<JsonNode> objects) throws Exception {
        Map<String, JsonNode> byKind = new LinkedHashMap<>();
        for (JsonNode o : objects) {
            assertTrue(byKind.put(o.get("kind").asText(), o) == null, "one " + o.get("kind").asText());
        }
        assertEquals(Set.of("Namespace", "ServiceAccount", "ConfigMap", "Deployment", "Service",
                "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"), byKind.keySet());
        JsonNode deployment = byKind.get("Deployment");
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

        // Non-root, nothing privileged, only the two capabilities setpriv uses.
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

        // Every volume mount has its volume; the read-only root needs /tmp and the data dir writable.
        Set<String> volumes = new TreeSet<>();
        pod.get("volumes").forEach(v -> volumes.add(v.get("name").asText()));
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
        container.get("env").forEach(e -> {
            env.put(e.get("name").asText(), "secret-value");
            if (e.has("valueFrom")) {
                assertEquals("sandstream-secrets", e.at("/valueFrom/secretKeyRef/name").asText(), e.toString());
            }
        });
        env.put("SANDSTREAM_RESULTS_AZURE_CONNECTION_STRING", "UseDevelopmentStorage=true");
        assertEquals(Set.of(), ConfigNames.unknown(env.keySet()), "names no sandstream property maps to");
        SandstreamConfig config = ConfigNames.bind(env);
        assertEquals(20, config.pools().get("python").maxSessions());
        assertEquals(5, config.pools().get("python").readySessions());
        assertEquals(300, config.pools().get("python").cooldown().toSeconds());
        // Sandbox uids (4096 from first-uid) inside the pod's 65536 and clear of the service's own uid.
        int firstUid = config.sessions().firstUid();
        assertTrue(firstUid > container.at("/securityContext/runAsUser").asInt() && firstUid + 4096 <= 65536, "first-uid " + firstUid);

        // Service, HPA, PDB and NetworkPolicy all aim at this Deployment's pods.
        String name = deployment.at("/metadata/name").asText();
        assertSelects(byKind.get("Service").at("/spec/selector"), podLabels);
        assertEquals("http", byKind.get("Service").at("/spec/ports/0/targetPort").asText());
        JsonNode hpa = byKind.get("HorizontalPodAutoscaler");
        assertEquals("Deployment", hpa.at("/spec/scaleTargetRef/kind").asText());
        assertEquals("apps/v1", hpa.at("/spec/scaleTargetRef/apiVersion").asText());
        assertEquals(name, hpa.at("/spec/scaleTargetRef/name").asText());
        int minReplicas = hpa.at("/spec/minReplicas").asInt();
        assertTrue(minReplicas >= 1 && minReplicas <= hpa.at("/spec/maxReplicas").asInt());
        assertFalse(deployment.at("/spec").has("replicas"), "the HPA owns the replica count");
        JsonNode pdb = byKind.get("PodDisruptionBudget");
        assertSelects(pdb.at("/spec/selector/matchLabels"), podLabels);
        assertTrue(pdb.at("/spec/minAvailable").asInt() < minReplicas, "a drain can always evict one pod");
        JsonNode policy = byKind.get("NetworkPolicy");
        assertSelects(policy.at("/spec/podSelector/matchLabels"), podLabels);
        checkEgress(policy);
        assertEquals("privileged", byKind.get("Namespace").at("/metadata/labels/pod-security.kubernetes.io~1enforce").asText());
    }

    /** Egress: DNS to kube-dns, and HTTPS to listed address blocks; nothing open to the world. */
    private static void checkEgress(JsonNode policy) {
        List<String> types = new ArrayList<>();
        policy.at("/spec/policyTypes").forEach(t -> types.add(t.asText()));
        assertTrue(types.contains("Egress"), "egress is restricted");
        JsonNode egress = policy.at("/spec/egress");
        assertTrue(egress.isArray() && egress.size() > 0);
        for (JsonNode rule : egress) {
            assertTrue(rule.has("to") && rule.get("to").size() > 0, "every egress rule names its peers: " + rule);
            assertTrue(rule.has("ports") && rule.get("ports").size() > 0, "every egress rule names its ports: " + rule);
            Set<Integer> ports = new TreeSet<>();
            rule.get("ports").forEach(p -> ports.add(p.get("port").asInt()));
            if (ports.contains(53)) {
                assertEquals(Set.of(53), ports, rule.toString());
                rule.get("to").forEach(peer -> assertEquals("kube-dns", peer.at("/podSelector/matchLabels/k8s-app").asText()));
            } else {
                assertEquals(Set.of(443), ports, "only HTTPS leaves the pod: " + rule);
                rule.get("to").forEach(peer -> {
                    String cidr = peer.at("/ipBlock/cidr").asText();
                    assertFalse(cidr.isEmpty(), "HTTPS only to address blocks: " + peer);
                    assertFalse(cidr.endsWith("/0"), "not the whole internet: " + cidr);
                });
            }
        }
    }

    private static void assertSelects(JsonNode selector, JsonNode labels) {
        assertTrue(selector.size() > 0, "empty selector");
        selector.fields().forEachRemaining(e -> assertEquals(e.getValue(), labels.get(e.getKey()), "selects " + e.getKey()));
    }

    private static JsonNode deployment(List<JsonNode> objects) {
        return objects.stream().filter(o -> o.at("/kind").asText().equals("Deployment")).findFirst().orElseThrow();
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
        assertEquals(List.of("base", "overlays/gvisor", "overlays/kata"), targets);
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
