package io.sandstream.ingress;

import java.nio.charset.StandardCharsets;
import java.util.List;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;

import io.quarkus.runtime.Startup;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.KeyFile;
import io.sandstream.config.SandstreamConfig;

/**
 * The keys that open {@code POST /events}. Configured keys win; without any, a key is generated on
 * first start (see {@link KeyFile}).
 */
@Startup
@ApplicationScoped
public class IngressKeys {

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
            configured = List.of(KeyFile.storedOrGenerated(dataDirectory.root().resolve(KEY_FILE), "ingress key",
                    "Send it as ?code=<key> or the aeg-sas-key header."));
        }
        keys = configured.stream().map(k -> k.getBytes(StandardCharsets.UTF_8)).toList();
    }

    /** True when the presented key equals one of the valid keys; every key is compared, in constant time. */
    public boolean matches(String presented) {
        if (presented == null || presented.isEmpty()) {
            return false;
        }
        boolean match = false;
        for (byte[] key : keys) {
            match |= KeyFile.same(key, presented);
        }
        return match;
    }
}
