package io.sandstream.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.enterprise.context.ApplicationScoped;

/**
 * The service's private data directory (journal, results, generated keys), created owner-only and
 * used by one process at a time: the first use locks {@code instance.lock} in it for the life of
 * the process, so a second instance on the same directory is refused before it opens anything.
 */
@ApplicationScoped
public class DataDirectory {

    /**
     * Per class loader, not per bean; a restart of the application in this JVM (tests, dev mode) in
     * a new class loader finds the lock held by this process and takes it as its own.
     */
    private static final Map<Path, HostLock> HELD = new ConcurrentHashMap<>();
    private final Path root;

    public DataDirectory(SandstreamConfig config) {
        this.root = config.dataDir().toAbsolutePath().normalize();
    }

    /** The directory, created with mode 700 when missing. */
    public Path root() {
        try {
            if (!Files.isDirectory(root)) {
                Files.createDirectories(root);
                Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx------"));
            }
            if (!HELD.containsKey(root)) {
                claim();
            }
            return root;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the data directory " + root, e);
        }
    }

    private void claim() throws IOException {
        synchronized (HELD) {
            if (!HELD.containsKey(root)) {
                Path file = root.resolve("instance.lock");
                HELD.put(root, HostLock.tryLockForProcess(file).orElseThrow(() -> new IllegalStateException("the data directory "
                        + root + " is in use by another sandstream instance (it holds " + file
                        + "): give each instance its own sandstream.data-dir")));
            }
        }
    }
}
