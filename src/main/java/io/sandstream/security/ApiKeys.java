package io.sandstream.security;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;

import io.quarkus.runtime.Startup;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.KeyFile;
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

    private record Entry(byte[] key, String prefix) {
    }

    private final SandstreamConfig config;
    private final DataDirectory dataDirectory;
    private final Secrets secrets;
    private final TenantPrefixes tenants;
    private volatile List<Entry> entries = List.of();

    public ApiKeys(SandstreamConfig config, DataDirectory dataDirectory, Secrets secrets, TenantPrefixes tenants) {
        this.config = config;
        this.tenants = tenants;
        this.dataDirectory = dataDirectory;
        this.secrets = secrets;
    }

    @PostConstruct
    void load() {
        secrets.watch(config.security().keyVault().apiKeysSecret(), this::apply);
    }

    private void apply(Optional<String> fromVault) {
        List<Entry> entries = new ArrayList<>();
        for (String item : fromVault.map(Secrets::items).orElseGet(() -> config.apiKeys().orElse(List.of()))) {
            int at = item.lastIndexOf('@');
            if (at <= 0 || at == item.length() - 1) {
                throw new IllegalArgumentException("sandstream.api-keys entries are KEY@SUBJECT_PREFIX");
            }
            entries.add(new Entry(item.substring(0, at).trim().getBytes(StandardCharsets.UTF_8), item.substring(at + 1).trim()));
        }
        if (entries.isEmpty()) {
            String key = KeyFile.storedOrGenerated(dataDirectory.root().resolve("api.key"), "API key",
                    "Send it as Authorization: Bearer <key>; it sees every subject.");
            entries.add(new Entry(key.getBytes(StandardCharsets.UTF_8), "*"));
        }
        this.entries = List.copyOf(entries);
        tenants.publish("api-keys", entries.stream().map(Entry::prefix).toList());
    }

    /** The scope of the bearer key in an {@code Authorization} header. */
    public Optional<KeyScope> scopeOf(String authorization) {
        if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return Optional.empty();
        }
        String presented = authorization.substring(7).trim();
        List<String> prefixes = new ArrayList<>();
        for (Entry entry : this.entries) {
            if (KeyFile.same(entry.key(), presented)) {
                prefixes.add(entry.prefix());
            }
        }
        return prefixes.isEmpty() ? Optional.empty() : Optional.of(new KeyScope(prefixes));
    }

    /** The scope, or a 401 problem. */
    public KeyScope require(String authorization) {
        return scopeOf(authorization).orElseThrow(() -> ProblemException.unauthorized(
                "Send a valid API key as Authorization: Bearer <key>."));
    }
}
