package io.sandstream.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

/**
 * The artifact the JVM image ships, started the way the image starts it: {@code Dockerfile.jvm}
 * copies exactly {@code target/quarkus-app}, which this test starts with the production profile
 * and the image's environment; it answers the probes the Kubernetes manifests use and runs code
 * in both languages. A second test runs it as the image's non-root user (uid 10001), with the
 * image's uid helper ({@code sandstream-setuid}, compiled here) carrying only CAP_SETUID/CAP_SETGID
 * as the image gives it, and {@code setpriv} without any.
 */
@Tag("packaged")
class PackagedServiceIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path DOCKERFILE = Path.of("src/main/docker/Dockerfile.jvm");
    private static final int IMAGE_USER = 10001;

    @TempDir
    Path temp;

    @Test
    void theImagesArtifactStartsWithTheProductionProfileAndAnswersTheProbes() throws Exception {
        String dockerfile = Files.readString(DOCKERFILE);
        String finalStage = dockerfile.substring(dockerfile.lastIndexOf("\nFROM "));
        List<String> copies = Pattern.compile("(?m)^COPY (?!--from)(.*)$").matcher(finalStage).results()
                .map(m -> m.group(1).trim()).toList();
        assertEquals(List.of("target/quarkus-app/ /deployments/"), copies, "the image copies exactly target/quarkus-app");
        assertTrue(dockerfile.contains("\"-jar\", \"quarkus-run.jar\"]"), "the image runs quarkus-run.jar");
        Path jar = Path.of(System.getProperty("sandstream.it.jar", "target/quarkus-app/quarkus-run.jar"));
        assertEquals(Path.of("target/quarkus-app").toAbsolutePath(), jar.toAbsolutePath().getParent(),
                "the tests start the same directory the image copies");

        try (ServiceProcess service = ServiceProcess.start(temp.resolve("data"), imageEnvironment(), temp.resolve("service.log"))) {
            assertTrue(service.output().contains("Profile prod activated"), service.output());
            assertProbesAndExecutions(service);
            assertOpenApiDocumentServed(service);
        }
    }

    @Test
    void runsAsTheImagesNonRootUserWithCapabilitiesOnlyOnTheUidHelper() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to set up the image's user model");
        Path setcap = Path.of("/usr/sbin/setcap");
        assumeTrue(Files.isExecutable(setcap), "needs setcap");

        // The helper as the image has it: root:10001, mode 0750, CAP_SETUID/CAP_SETGID as file capabilities.
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Map<String, String> env = imageEnvironment(); // the runtime files go to data/runtime, the service's own
        Path helper = Path.of(env.get("SANDSTREAM_SESSIONS_UID_HELPER"));
        Files.setAttribute(helper, "unix:gid", IMAGE_USER);
        Files.setPosixFilePermissions(helper, PosixFilePermissions.fromString("rwxr-x---"));
        assertEquals(0, new ProcessBuilder(setcap.toString(), "cap_setuid,cap_setgid=ep", helper.toString())
                .inheritIO().start().waitFor());
        // The data directory as the image has it: owned by the service user, mode 700, reachable.
        Path data = ownedByImageUser(temp.resolve("data"), "rwx------");

        // The service starts as uid 10001 and group 10001 with a bounding set of SETUID and SETGID
        // (Kubernetes: capabilities drop ALL, add SETUID, SETGID; runAsGroup 10001).
        List<String> asImageUser = List.of("/usr/bin/setpriv", "--reuid=" + IMAGE_USER, "--regid=" + IMAGE_USER,
                "--clear-groups", "--bounding-set=-all,+setuid,+setgid", "--inh-caps=-all", "--");
        try (ServiceProcess service = ServiceProcess.start(data, env, temp.resolve("service.log"), asImageUser)) {
            assertTrue(service.output().contains("memory limits by address-space rlimit"),
                    "a non-root service cannot create cgroups and falls back to the rlimit: " + service.output());
            assertProbesAndExecutions(service);
        }
    }

    private static Path ownedByImageUser(Path dir, String permissions) throws Exception {
        Files.createDirectory(dir);
        Files.setAttribute(dir, "unix:uid", IMAGE_USER);
        Files.setAttribute(dir, "unix:gid", IMAGE_USER);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString(permissions));
        return dir;
    }

    /** The image's ENV lines, with what this machine's other runs need instead (uids, runtime dir). */
    private Map<String, String> imageEnvironment() throws Exception {
        Map<String, String> env = new HashMap<>();
        Matcher block = Pattern.compile("(?ms)^ENV (.*?)(?<!\\\\)$").matcher(Files.readString(DOCKERFILE));
        while (block.find()) {
            Matcher pair = Pattern.compile("([A-Z_]+)=(\"[^\"]*\"|\\S+)").matcher(block.group(1));
            while (pair.find()) {
                env.put(pair.group(1), pair.group(2).replace("\"", ""));
            }
        }
        assertTrue(env.containsKey("SANDSTREAM_DATA_DIR") && env.containsKey("SANDSTREAM_SESSIONS_FIRST_UID"), env.toString());
        env.keySet().removeIf(k -> k.equals("PATH") || k.equals("JAVA_HOME") || k.equals("SANDSTREAM_DATA_DIR"));
        for (String shared : List.of("SANDSTREAM_SESSIONS_FIRST_UID", "SANDSTREAM_SESSIONS_RUNTIME_DIR")) {
            String value = System.getenv(shared);
            if (value != null) {
                env.put(shared, value);
            }
        }
        // The image's uid helper, built from the same source with the range the uids here need.
        int firstUid = Integer.parseInt(env.get("SANDSTREAM_SESSIONS_FIRST_UID"));
        Path helper = io.sandstream.deploy.SetuidHelper.compile(Files.createDirectories(temp.resolve("libexec")),
                "-DSANDBOX_UID_MIN=" + firstUid, "-DSANDBOX_UID_MAX=" + (firstUid + 4 * 4096 - 1));
        Files.setPosixFilePermissions(helper.getParent(), PosixFilePermissions.fromString("rwxr-xr-x"));
        env.put("SANDSTREAM_SESSIONS_UID_HELPER", helper.toString());
        env.put("SANDSTREAM_API_KEYS", "it-reader@*");
        env.put("SANDSTREAM_INGRESS_KEYS", "it-ingress");
        env.put("SANDSTREAM_POOLS_PYTHON_READY_SESSIONS", "1");
        env.put("SANDSTREAM_POOLS_JAVASCRIPT_READY_SESSIONS", "1");
        return env;
    }

    private static void assertProbesAndExecutions(ServiceProcess service) throws Exception {
        for (String probe : probePaths()) {
            HttpResponse<String> response = service.get(probe);
            assertEquals(200, response.statusCode(), probe + ": " + response.body());
            assertEquals("UP", JSON.readTree(response.body()).get("status").asText(), probe);
        }
        for (String[] code : List.of(new String[] { "python", "import os\\nprint(os.getuid())\\n6*7" },
                new String[] { "javascript", "console.log(process.getuid()); 6*7" })) {
            HttpResponse<String> response = ServiceProcess.HTTP.send(HttpRequest.newBuilder(service.uri("/executions?wait=30"))
                    .timeout(Duration.ofSeconds(40)).header("Authorization", "Bearer it-reader")
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"language\":\"" + code[0] + "\",\"code\":\"" + code[1] + "\"}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), response.body());
            JsonNode result = JSON.readTree(response.body());
            assertEquals("Succeeded", result.get("status").asText(), response.body());
            assertEquals("1000\n", result.get("stdout").asText(), "the sandbox's own uid inside");
            assertEquals(42, result.get("result").asInt());
        }
    }

    /**
     * The OpenAPI document, which the packaged service prepares on the first request for it rather
     * than at start (LazyOpenApiDocumentService), in both formats and both ways of asking for JSON.
     */
    private static void assertOpenApiDocumentServed(ServiceProcess service) throws Exception {
        Map<String, HttpResponse<String>> responses = new HashMap<>();
        for (String[] ask : List.of(new String[] { "json", "/q/openapi?format=json", "*/*" },
                new String[] { "json", "/q/openapi", "application/json" }, new String[] { "yaml", "/q/openapi", "*/*" },
                new String[] { "yaml", "/q/openapi?format=yaml", "*/*" })) {
            HttpResponse<String> response = ServiceProcess.HTTP.send(HttpRequest.newBuilder(service.uri(ask[1]))
                    .timeout(Duration.ofSeconds(40)).header("Accept", ask[2]).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, response.statusCode(), ask[1] + ": " + response.body());
            assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/" + ask[0]),
                    ask[1] + " " + ask[2] + ": " + response.headers().map());
            JsonNode document = ask[0].equals("json") ? JSON.readTree(response.body()) : new YAMLMapper().readTree(response.body());
            assertEquals("sandstream", document.at("/info/title").asText(), response.body());
            assertTrue(document.at("/paths").has("/events"), response.body());
            responses.put(ask[0], response);
        }
        assertEquals(JSON.readTree(responses.get("json").body()), new YAMLMapper().readTree(responses.get("yaml").body()),
                "one document in two formats");
    }

    /** The liveness and readiness paths of the Kubernetes StatefulSet: the service must answer them. */
    private static List<String> probePaths() throws Exception {
        JsonNode container = new YAMLMapper().readTree(Path.of("kubernetes/base/statefulset.yaml").toFile())
                .at("/spec/template/spec/containers/0");
        List<String> paths = new ArrayList<>();
        for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
            paths.add(container.at("/" + probe + "/httpGet/path").asText());
        }
        assertEquals(List.of("/q/health/started", "/q/health/live", "/q/health/ready"), paths);
        return paths;
    }
}
