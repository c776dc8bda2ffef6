package io.sandstream.results;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real Azurite blob service for tests: started on a free loopback port with its own data
 * directory, stopped by killing its process tree, and restartable on the same port and data (an
 * outage the service must ride out). Installed by {@code .ci/setup} into the tools directory
 * ({@code SANDSTREAM_TOOLS_DIR}, default {@code ~/.cache/sandstream-tools}).
 */
public final class Azurite implements AutoCloseable {

    /** The well-known development storage account key (public, in Microsoft's Azurite docs). */
    public static final String ACCOUNT_KEY =
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);

    private final Path dataDir;
    private final int port;
    private Process process;

    private Azurite(Path dataDir, int port) {
        this.dataDir = dataDir;
        this.port = port;
    }

    /** Starts Azurite on a free port with {@code dataDir} as its storage. */
    public static Azurite start(Path dataDir) {
        Azurite azurite = new Azurite(dataDir, freePort());
        azurite.startProcess();
        return azurite;
    }

    /** A fresh Azurite under {@code target/}, its data removed by nobody: it is build output. */
    public static Azurite startFresh() {
        try {
            Files.createDirectories(Path.of("target"));
            return start(Files.createTempDirectory(Path.of("target").toAbsolutePath(), "azurite-"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public String connectionString() {
        return "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + ACCOUNT_KEY
                + ";BlobEndpoint=http://127.0.0.1:" + port + "/devstoreaccount1;";
    }

    public int port() {
        return port;
    }

    public boolean running() {
        return process != null && process.isAlive();
    }

    /** Kills Azurite and everything it started; returns when the port is free again. */
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        List<ProcessHandle> tree = process.descendants().toList();
        process.destroy(); // SIGTERM first: Azurite then saves its metadata database
        tree.forEach(ProcessHandle::destroy);
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
            tree.forEach(ProcessHandle::destroyForcibly);
            awaitPort(false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } finally {
            process = null;
        }
    }

    /** Starts again on the same port and data directory, as after an outage. */
    public synchronized void restart() {
        stop();
        startProcess();
    }

    @Override
    public void close() {
        stop();
    }

    private synchronized void startProcess() {
        Path binary = binary();
        if (!Files.isExecutable(binary)) {
            throw new IllegalStateException(binary + " is missing: run .ci/setup (installs azurite@3.35.0)");
        }
        try {
            Files.createDirectories(dataDir);
            // --skipApiVersionCheck: the Java SDK sends a newer API version than Azurite knows;
            // --disableTelemetry: telemetry would try the network.
            process = new ProcessBuilder(binary.toString(), "--silent", "--disableTelemetry", "--location",
                    dataDir.toString(), "--blobHost", "127.0.0.1", "--blobPort", Integer.toString(port),
                    "--skipApiVersionCheck")
                    .redirectErrorStream(true)
                    .redirectOutput(dataDir.resolve("azurite.log").toFile())
                    .start();
            awaitPort(true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static Path binary() {
        String tools = System.getenv("SANDSTREAM_TOOLS_DIR");
        Path dir = tools != null && !tools.isBlank() ? Path.of(tools)
                : Path.of(System.getProperty("user.home"), ".cache", "sandstream-tools");
        return dir.resolve("node_modules/.bin/azurite-blob");
    }

    private void awaitPort(boolean open) throws InterruptedException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (open && process != null && !process.isAlive()) {
                throw new IllegalStateException("Azurite exited with " + process.exitValue() + "; see "
                        + dataDir.resolve("azurite.log"));
            }
            if (listening() == open) {
                return;
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("Azurite port " + port + (open ? " never opened" : " never closed"));
    }

    private boolean listening() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            socket.setReuseAddress(true);
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
