package io.sandstream.tenancy;

import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.enterprise.context.ApplicationScoped;
import io.sandstream.model.Tenant;

/**
 * Every tenant prefix configured right now, from the scoped API keys and ingress keys (each key
 * source publishes its own after every load or Key Vault refresh). Work that arrives under an
 * unscoped key belongs to the tenant whose prefix covers its subject: that is how an Event Grid
 * subscription with platform-set subjects feeds the sessions a tenant's API key then reaches.
 */
@ApplicationScoped
public class TenantPrefixes {

    private final Map<String, Set<String>> bySource = new ConcurrentHashMap<>();

    /** Replaces what {@code source} (API keys, ingress keys) configured; {@code *} is no tenant and is skipped. */
    public void publish(String source, Collection<String> prefixes) {
        bySource.put(source, prefixes.stream().filter(p -> !p.equals(KeyScope.EVERY_SUBJECT) && !p.isEmpty())
                .collect(java.util.stream.Collectors.toUnmodifiableSet()));
    }

    /** The tenant with the longest configured prefix that covers {@code subject}, else the shared tenant. */
    public Tenant of(String subject) {
        if (subject == null) {
            return Tenant.SHARED;
        }
        String longest = null;
        for (Set<String> prefixes : bySource.values()) {
            for (String prefix : prefixes) {
                if (KeyScope.within(prefix, subject) && (longest == null || prefix.length() > longest.length())) {
                    longest = prefix;
                }
            }
        }
        return longest == null ? Tenant.SHARED : new Tenant(longest);
    }
}
