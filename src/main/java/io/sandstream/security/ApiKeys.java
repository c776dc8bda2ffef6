package io.sandstream.security;

import java.util.List;
import java.util.Optional;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;

import io.quarkus.runtime.Startup;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.problem.ProblemException;
import io.sandstream.secrets.Secrets;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.tenancy.TenantPrefixes;

/**
 * Bearer keys of the read and pool APIs, each scoped to subject prefixes: from Key Vault when it
 * holds them (refreshed for rotation), else configured, else generated on first start.
 */
@Startup
@ApplicationScoped
public class ApiKeys {

    private static final ScopedKeys.Kind KIND = new ScopedKeys.Kind("api-keys", "api.key", "API key",
            "Send it as Authorization: Bearer <key>; it sees every subject.", false);

    private final SandstreamConfig config;
    private final DataDirectory dataDirectory;
    private final Secrets secrets;
    private final TenantPrefixes tenants;
    private volatile ScopedKeys keys;

    public ApiKeys(SandstreamConfig config, DataDirectory dataDirectory, Secrets secrets, TenantPrefixes tenants) {
        this.config = config;
        this.tenants = tenants;
        this.dataDirectory = dataDirectory;
        this.secrets = secrets;
    }

    @PostConstruct
    void load() {
        keys = new ScopedKeys(KIND, config.security().keyVault().apiKeysSecret(), config.apiKeys().orElse(List.of()),
                secrets, dataDirectory, tenants);
    }

    /** The scope of the bearer key in an {@code Authorization} header. */
    public Optional<KeyScope> scopeOf(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return Optional.empty();
        }
        return keys.scopeOf(authorization.substring(7).trim());
    }

    /** The scope, or a 401 problem. */
    public KeyScope require(String authorization) {
        return scopeOf(authorization).orElseThrow(() -> ProblemException.unauthorized(
                "Send a valid API key as Authorization: Bearer <key>."));
    }
}
