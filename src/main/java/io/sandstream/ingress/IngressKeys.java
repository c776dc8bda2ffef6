package io.sandstream.ingress;

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
import java.util.List;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import io.quarkus.runtime.Startup;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;

/**
 * The keys that open {@code POST /events}. Configured keys win; without any, a random key is
 * generated on first start, written owner-only to the data directory and printed that one time —
 * the service never runs open.
 */
@Startup
@ApplicationScoped
public class IngressKeys {

    private static final Logger LOG = Logger.getLogger(IngressKeys.class);
    static final String KEY_FILE = "ingress.key";

    private final SandstreamConfig config;
    private final DataDirectory dataDirectory;
    private List<byte[]> keys;

    public IngressKeys(SandstreamConfig config, DataDirectory dataDirectory) {
        this.config = config;
        this.dataDirectory = dataDirectory;
    }

    @PostConstruct
    void load() {
        List<String> configured = config.ingressKeys().orElse(List.of()).stream()
                .map(String::trim).filter(k -> !k.isEmpty()).toList();
        if (configured.isEmpty()) {
            configured = List.of(storedOrGeneratedKey());
        }
        keys = configured.stream().map(k -> k.getBytes(StandardCharsets.UTF_8)).toList();
    }

    /** True when the presented key equals one of the valid keys; the comparison takes constant time. */
    public boolean matches(String presented) {
        if (presented == null || presented.isEmpty()) {
            return false;
        }
        byte[] candidate = presented.getBytes(StandardCharsets.UTF_8);
        boolean match = false;
        for (byte[] key : keys) {
            match |= MessageDigest.isEqual(key, candidate); // no early exit: every key is compared
        }
        return match;
    }

    private String storedOrGeneratedKey() {
        Path file = dataDirectory.root().resolve(KEY_FILE);
        try {
            if (Files.exists(file)) {
                String key = Files.readString(file, StandardCharsets.UTF_8).trim();
                LOG.infof("ingress key loaded from %s", file);
                return key;
            }
            byte[] random = new byte[32];
            new SecureRandom().nextBytes(random);
            String key = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(file, key + "\n", StandardCharsets.UTF_8, StandardOpenOption.TRUNCATE_EXISTING);
            // Printed exactly once, on the start that created it; later starts only name the file.
            LOG.warnf("No ingress key was configured: generated one and stored it in %s (mode 600).%n"
                    + "    Ingress key: %s%n"
                    + "    Send it as ?code=<key> or the aeg-sas-key header. It will not be printed again.", file, key);
            return key;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the ingress key file " + file, e);
        }
    }
}
