package io.sandstream.ingress;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;

import io.quarkus.runtime.Startup;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.KeyFile;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.secrets.Secrets;

/**
 * The keys that open {@code POST /events}: from Key Vault when it holds them (and again after each
 * refresh, so a rotation needs no restart), else the configured keys; without any, a key is
 * generated on first start (see {@link KeyFile}).
 */
@Startup
@ApplicationScoped
public class IngressKeys {

    static final String KEY_FILE = "ingress.key";

    private final SandstreamConfig config;
    private final DataDirectory dataDirectory;
    private final Secrets secrets;
    private volatile List<byte[]> keys;

    public IngressKeys(SandstreamConfig config, DataDirectory dataDirectory, Secrets secrets) {
        this.config = config;
        this.dataDirectory = dataDirectory;
        this.secrets = secrets;
    }

    @PostConstruct
    void load() {
        secrets.watch(config.security().keyVault().ingressKeysSecret(), this::apply);
    }

    private void apply(Optional<String> fromVault) {
        List<String> configured = fromVault.map(Secrets::items).orElseGet(() -> config.ingressKeys().orElse(List.of()))
                .stream().map(String::trim).filter(k -> !k.isEmpty()).toList();
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
        for (byte[] key : this.keys) {
            match |= KeyFile.same(key, presented);
        }
        return match;
    }
}
