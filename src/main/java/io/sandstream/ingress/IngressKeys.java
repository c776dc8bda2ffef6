package io.sandstream.ingress;

import java.util.List;
import java.util.Optional;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;

import io.quarkus.runtime.Startup;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.secrets.Secrets;
import io.sandstream.security.ScopedKeys;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.tenancy.TenantPrefixes;

/**
 * The keys that open {@code POST /events}: from Key Vault when it holds them (and again after each
 * refresh, so a rotation needs no restart), else the configured keys; without any, a key is
 * generated on first start (see {@link ScopedKeys}). {@code KEY@PREFIX} scopes a key to one tenant's
 * subjects, as for API keys; a key without {@code @} may send any subject.
 */
@Startup
@ApplicationScoped
public class IngressKeys {

    static final String KEY_FILE = "ingress.key";
    private static final ScopedKeys.Kind KIND = new ScopedKeys.Kind("ingress-keys", KEY_FILE, "ingress key",
            "Send it as ?code=<key> or the aeg-sas-key header.", true);

    private final SandstreamConfig config;
    private final DataDirectory dataDirectory;
    private final Secrets secrets;
    private final TenantPrefixes tenants;
    private volatile ScopedKeys keys;

    public IngressKeys(SandstreamConfig config, DataDirectory dataDirectory, Secrets secrets, TenantPrefixes tenants) {
        this.config = config;
        this.tenants = tenants;
        this.dataDirectory = dataDirectory;
        this.secrets = secrets;
    }

    @PostConstruct
    void load() {
        keys = new ScopedKeys(KIND, config.security().keyVault().ingressKeysSecret(),
                config.ingressKeys().orElse(List.of()), secrets, dataDirectory, tenants);
    }

    /** True when the presented key equals one of the valid keys; every key is compared, in constant time. */
    public boolean matches(String presented) {
        return scopeOf(presented).isPresent();
    }

    /**
     * What the presented key may send: the subject prefixes of every entry with that key ({@code *}
     * for an unscoped one). Every key is compared, in constant time.
     */
    public Optional<KeyScope> scopeOf(String presented) {
        return keys.scopeOf(presented);
    }
}
