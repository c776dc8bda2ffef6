package io.sandstream.ingress;

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
import io.sandstream.secrets.Secrets;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.tenancy.TenantPrefixes;

/**
 * The keys that open {@code POST /events}: from Key Vault when it holds them (and again after each
 * refresh, so a rotation needs no restart), else the configured keys; without any, a key is
 * generated on first start (see {@link KeyFile}). {@code KEY@PREFIX} scopes a key to one tenant's
 * subjects, as for API keys; a key without {@code @} may send any subject.
 */
@Startup
@ApplicationScoped
public class IngressKeys {

    static final String KEY_FILE = "ingress.key";

    private final SandstreamConfig config;
    private final DataDirectory dataDirectory;
    private final Secrets secrets;
    private final TenantPrefixes tenants;
    private volatile List<Entry> keys;

    private record Entry(byte[] key, String prefix) {
    }

    public IngressKeys(SandstreamConfig config, DataDirectory dataDirectory, Secrets secrets, TenantPrefixes tenants) {
        this.config = config;
        this.tenants = tenants;
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
        List<Entry> entries = configured.stream().map(IngressKeys::entry).toList();
        keys = entries;
        tenants.publish("ingress-keys", entries.stream().map(Entry::prefix).toList());
    }

    private static Entry entry(String item) {
        int at = item.lastIndexOf('@');
        if (at == 0 || at == item.length() - 1) {
            throw new IllegalArgumentException("sandstream.ingress-keys entries are KEY or KEY@SUBJECT_PREFIX");
        }
        return at < 0 ? new Entry(item.getBytes(StandardCharsets.UTF_8), KeyScope.EVERY_SUBJECT)
                : new Entry(item.substring(0, at).trim().getBytes(StandardCharsets.UTF_8), item.substring(at + 1).trim());
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
        if (presented == null || presented.isEmpty()) {
            return Optional.empty();
        }
        List<String> prefixes = new ArrayList<>();
        for (Entry entry : this.keys) {
            if (KeyFile.same(entry.key(), presented)) {
                prefixes.add(entry.prefix());
            }
        }
        return prefixes.isEmpty() ? Optional.empty() : Optional.of(new KeyScope(prefixes));
    }
}
