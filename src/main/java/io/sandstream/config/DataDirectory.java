package io.sandstream.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import jakarta.enterprise.context.ApplicationScoped;

/** The service's private data directory (journal, results, generated keys), created owner-only. */
@ApplicationScoped
public class DataDirectory {

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
            return root;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the data directory " + root, e);
        }
    }
}
