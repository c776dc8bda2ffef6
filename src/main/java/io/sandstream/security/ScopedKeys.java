package io.sandstream.security;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import io.sandstream.config.DataDirectory;
import io.sandstream.config.KeyFile;
import io.sandstream.secrets.Secrets;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.tenancy.TenantPrefixes;

/**
 * One kind of key scoped to subject prefixes ({@code KEY@SUBJECT_PREFIX}), as the ingress keys and
 * the API keys both are. The keys come from Key Vault when the kind's secret holds them (and again
 * after each refresh, so a rotation needs no restart), else from configuration, else one key is
 * generated on first start and kept in the data directory (see {@link KeyFile}). A presented key
 * is compared with every valid key, in constant time.
 */
public final class ScopedKeys {

    /**
     * How one kind of key is set up: its name ({@code sandstream.<name>} lists them; tenants are
     * published under it), the generated key's file and what the log says about it, and whether a
     * key without {@code @PREFIX} is allowed (it then sees every subject).
     */
    public record Kind(String name, String keyFile, String label, String usage, boolean unscopedAllowed) {
    }

    private record Entry(byte[] key, String prefix) {
    }

    private final Kind kind;
    private volatile List<Entry> entries = List.of();

    /**
     * Loads the keys now and again on every refresh of {@code vaultSecret}; their prefixes are
     * published as tenants.
     */
    public ScopedKeys(Kind kind, String vaultSecret, List<String> configured, Secrets secrets,
            DataDirectory dataDirectory, TenantPrefixes tenants) {
        this.kind = kind;
        secrets.watch(vaultSecret, fromVault -> {
            List<String> items = fromVault.map(Secrets::items).orElse(configured).stream().map(String::trim)
                    .filter(item -> !item.isEmpty()).toList();
            List<Entry> loaded = new ArrayList<>();
            items.forEach(item -> loaded.add(entry(item)));
            if (loaded.isEmpty()) {
                String key = KeyFile.storedOrGenerated(dataDirectory.root().resolve(kind.keyFile()), kind.label(), kind.usage());
                loaded.add(new Entry(key.getBytes(StandardCharsets.UTF_8), KeyScope.EVERY_SUBJECT));
            }
            entries = List.copyOf(loaded);
            tenants.publish(kind.name(), loaded.stream().map(Entry::prefix).toList());
        });
    }

    private Entry entry(String item) {
        int at = item.lastIndexOf('@');
        if (at == 0 || at == item.length() - 1 || at < 0 && !kind.unscopedAllowed()) {
            throw new IllegalArgumentException("sandstream." + kind.name() + " entries are "
                    + (kind.unscopedAllowed() ? "KEY or KEY@SUBJECT_PREFIX" : "KEY@SUBJECT_PREFIX"));
        }
        return at < 0 ? new Entry(item.getBytes(StandardCharsets.UTF_8), KeyScope.EVERY_SUBJECT)
                : new Entry(item.substring(0, at).trim().getBytes(StandardCharsets.UTF_8), item.substring(at + 1).trim());
    }

    /** What the presented key may see or send: the prefixes of every entry with that key. */
    public Optional<KeyScope> scopeOf(String presented) {
        if (presented == null || presented.isEmpty()) {
            return Optional.empty();
        }
        List<String> prefixes = new ArrayList<>();
        for (Entry entry : entries) {
            if (KeyFile.same(entry.key(), presented)) {
                prefixes.add(entry.prefix());
            }
        }
        return prefixes.isEmpty() ? Optional.empty() : Optional.of(new KeyScope(prefixes));
    }
}
