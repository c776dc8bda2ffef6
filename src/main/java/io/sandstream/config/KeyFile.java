package io.sandstream.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;

import org.jboss.logging.Logger;

/**
 * A key the service generates for itself when none is configured: random, stored owner-only in the
 * data directory and printed once, on the start that created it, so the service never runs open.
 */
public final class KeyFile {

    private static final Logger LOG = Logger.getLogger(KeyFile.class);

    private KeyFile() {
    }

    public static String storedOrGenerated(Path file, String label, String usage) {
        try {
            if (Files.exists(file)) {
                LOG.infof("%s loaded from %s", label, file);
                return Files.readString(file, StandardCharsets.UTF_8).trim();
            }
            byte[] random = new byte[32];
            new SecureRandom().nextBytes(random);
            String key = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(file, key + "\n", StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
            LOG.warnf("No %s was configured: generated one and stored it in %s (mode 600).%n    %s: %s%n"
                    + "    %s It will not be printed again.", label, file, capitalize(label), key, usage);
            return key;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the key file " + file, e);
        }
    }

    /** Constant-time comparison of a presented key with a valid one. */
    public static boolean same(byte[] valid, String presented) {
        return presented != null && MessageDigest.isEqual(valid, presented.getBytes(StandardCharsets.UTF_8));
    }

    private static String capitalize(String s) {
        return Character.toUpperCase(s.charAt(0)) + s.substring(1);
    }
}
