package io.sandstream.it;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.sandstream.SandboxProcesses;

/**
 * The packaged service ({@code target/quarkus-app/quarkus-run.jar}) run as a real separate process,
 * so tests can stop, kill and restart it on the same data directory; the multi-instance tests run
 * each on a host of its own ({@link NetworkNamespaces}).
 */
public final class ServiceProcess implements AutoCloseable {

    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final Process process;
    private final Path log;
    /** The host it runs on; null: this machine's loopback. */
    private final NetworkNamespaces.Node node;
    private final int port;
    /** Its sandboxes when it was last killed or stopped: what must be gone afterwards. */
    private List<ProcessHandle> sandboxesAtEnd = List.of();

    private ServiceProcess(Process process, Path log, NetworkNamespaces.Node node, int port) {
        this.process = process;
        this.log = log;
        this.node = node;
        this.port = port;
    }

    /**
     * The environment of instance {@code index} of a cluster on {@code bootstrapServers}: topics and
     * group under {@code prefix}, an instance id of its own, sandbox uids from
     * {@code firstUid + index * 8192}, and no JavaScript sandboxes kept warm. Callers add their keys
     * and pool sizes.
     */
    public static Map<String, String> clusterEnv(String bootstrapServers, String prefix, int index, int firstUid) {
        Map<String, String> env = new HashMap<>();
        env.put("SANDSTREAM_JOURNAL_KIND", "kafka");
        env.put("SANDSTREAM_KAFKA_BOOTSTRAP_SERVERS", bootstrapServers);
        env.put("SANDSTREAM_KAFKA_TOPIC_PREFIX", prefix);
        env.put("SANDSTREAM_KAFKA_GROUP_ID", prefix + "group");
        env.put("SANDSTREAM_KAFKA_INSTANCE_ID", prefix + index);
        env.put("SANDSTREAM_KAFKA_LANE_PARTITIONS", "6");
        env.put("SANDSTREAM_KAFKA_SESSION_TIMEOUT", "6s");
        env.put("SANDSTREAM_SESSIONS_FIRST_UID", Integer.toString(firstUid + index * 8192));
        env.put("SANDSTREAM_POOLS_JAVASCRIPT_READY_SESSIONS", "0");
        return env;
    }

    /** Starts the service with the given environment and waits until it reports ready. */
    public static ServiceProcess start(Path dataDir, Map<String, String> env, Path log) throws Exception {
        return start(dataDir, env, log, List.of());
    }

    /** The same, run through {@code wrapper} (a command that ends by executing its arguments). */
    public static ServiceProcess start(Path dataDir, Map<String, String> env, Path log, List<String> wrapper)
            throws Exception {
        return start(dataDir, env, log, wrapper, null, freePort());
    }

    /**
     * The same, on {@code node} (a network namespace of its own) as a host of a cluster: on port 8080
     * of the node's address, which it advertises to the other instances
     * ({@code sandstream.cluster.advertised-url}).
     */
    public static ServiceProcess start(Path dataDir, Map<String, String> env, Path log, NetworkNamespaces.Node node)
            throws Exception {
        Map<String, String> onNode = new HashMap<>(env);
        onNode.put("SANDSTREAM_CLUSTER_ADVERTISED_URL", "http://" + node.address() + ":8080");
        return start(dataDir, onNode, log, node.enter(), node, 8080);
    }

    private static ServiceProcess start(Path dataDir, Map<String, String> env, Path log, List<String> wrapper,
            NetworkNamespaces.Node node, int port) throws Exception {
        String jar = System.getProperty("sandstream.it.jar", "target/quarkus-app/quarkus-run.jar");
        String nativeExecutable = System.getProperty("sandstream.it.native", "");
        ProcessBuilder builder = nativeExecutable.isBlank()
                ? new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-jar", jar)
                : new ProcessBuilder(nativeExecutable, "-Xmx256m"); // -Pnative: the same tests against the native executable
        builder.command().addAll(0, wrapper);
        builder.environment().keySet().removeIf(k -> k.startsWith("SANDSTREAM_") || k.startsWith("QUARKUS_"));
        builder.environment().put("QUARKUS_HTTP_PORT", Integer.toString(port));
        builder.environment().put("SANDSTREAM_DATA_DIR", dataDir.toString());
        builder.environment().put("SANDSTREAM_SECURITY_PUBLIC_METRICS", "true"); // the tests read /q/metrics without a key
        builder.environment().putAll(env);
        builder.redirectErrorStream(true).redirectOutput(log.toFile());
        ServiceProcess service = new ServiceProcess(builder.start(), log, node, port);
        service.awaitReady(Duration.ofSeconds(240)); // generous: only a failure waits it out; a loaded 2-core machine has taken 110 s
        return service;
    }

    private void awaitReady(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the service exited: " + output());
            }
            try {
                if (get("/q/health/ready").statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("the service did not become ready: " + output());
    }

    public URI uri(String pathAndQuery) {
        return URI.create("http://" + (node == null ? "127.0.0.1" : node.address()) + ":" + port + pathAndQuery);
    }

    /** The host (network namespace) it runs on, for a node loss; null when it runs on this machine's loopback. */
    public NetworkNamespaces.Node node() {
        return node;
    }

    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> post(String pathAndQuery, String contentType, String body)
            throws IOException, InterruptedException {
        // 60 s: a batch is answered once the broker acknowledged it, which a loaded 2-core machine
        // (load average 35-42 on 2026-12-05) has taken more than 10 s to do
        return HTTP.send(HttpRequest.newBuilder(uri(pathAndQuery)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    public String output() throws IOException {
        return Files.readString(log);
    }

    /** Its sandbox processes (descendants running as another uid): other services' sandboxes are not counted. */
    public List<ProcessHandle> sandboxes() {
        return SandboxProcesses.sandboxesOf(process.toHandle());
    }

    /** Those of its sandboxes at its end (kill or close) that are still alive. */
    public List<String> sandboxesLeft() {
        return SandboxProcesses.alive(sandboxesAtEnd);
    }

    /**
     * SIGKILL: what a crash or an OOM kill does. The service is stopped (SIGSTOP) first, so the
     * sandboxes it has at its end are exactly those listed: once killed they are no longer its
     * descendants (init adopts them), which is what {@link #sandboxesLeft()} looks for.
     */
    public void kill() throws Exception {
        if (process.isAlive()) {
            new ProcessBuilder("kill", "-STOP", Long.toString(process.pid())).inheritIO().start().waitFor();
            Path stat = Path.of("/proc", Long.toString(process.pid()), "stat");
            for (int i = 0; i < 100 && process.isAlive() && !stoppedOrGone(stat); i++) {
                Thread.sleep(10);
            }
            sandboxesAtEnd = sandboxes();
        }
        process.destroyForcibly().waitFor();
    }

    private static boolean stoppedOrGone(Path stat) {
        try {
            String line = Files.readString(stat);
            return line.substring(line.lastIndexOf(')') + 2).startsWith("T");
        } catch (IOException e) {
            return true;
        }
    }

    /** SIGTERM, without waiting: what Kubernetes sends a pod it stops (after the preStop hook). */
    public void terminate() {
        sandboxesAtEnd = sandboxes();
        process.destroy();
    }

    /** Waits for the process to end; false when it still runs after {@code timeout}. */
    public boolean awaitExit(Duration timeout) throws InterruptedException {
        return process.waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    public boolean alive() {
        return process.isAlive();
    }

    @Override
    public void close() throws InterruptedException {
        sandboxesAtEnd = sandboxes(); // a stopping service starts no new ones
        process.destroy();
        if (!process.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
