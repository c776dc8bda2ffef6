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
import java.util.List;
import java.util.Map;

/**
 * The packaged service ({@code target/quarkus-app/quarkus-run.jar}) run as a real separate process,
 * so tests can stop, kill and restart it on the same data directory.
 */
public final class ServiceProcess implements AutoCloseable {

    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private final Process process;
    private final Path log;
    private final int port;

    private ServiceProcess(Process process, Path log, int port) {
        this.process = process;
        this.log = log;
        this.port = port;
    }

    /** Starts the service with the given environment and waits until it reports ready. */
    public static ServiceProcess start(Path dataDir, Map<String, String> env, Path log) throws Exception {
        return start(dataDir, env, log, List.of());
    }

    /** The same, run through {@code wrapper} (a command that ends by executing its arguments). */
    public static ServiceProcess start(Path dataDir, Map<String, String> env, Path log, List<String> wrapper)
            throws Exception {
        String jar = System.getProperty("sandstream.it.jar", "target/quarkus-app/quarkus-run.jar");
        String nativeExecutable = System.getProperty("sandstream.it.native", "");
        int port = freePort();
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
        ServiceProcess service = new ServiceProcess(builder.start(), log, port);
        service.awaitReady(Duration.ofSeconds(60));
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
        return URI.create("http://127.0.0.1:" + port + pathAndQuery);
    }

    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> post(String pathAndQuery, String contentType, String body)
            throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(uri(pathAndQuery)).timeout(Duration.ofSeconds(10))
                .header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    public String output() throws IOException {
        return Files.readString(log);
    }

    /** SIGKILL: what a crash or an OOM kill does. */
    public void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    @Override
    public void close() throws InterruptedException {
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
