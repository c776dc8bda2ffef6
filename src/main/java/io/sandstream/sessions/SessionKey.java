package io.sandstream.sessions;

import io.sandstream.model.Tenant;

/**
 * A named session: the identifier a client chose, within its tenant. The same identifier in two
 * tenants names two sessions; nothing in a pool is reachable by identifier alone.
 */
public record SessionKey(Tenant tenant, String identifier) {

    public SessionKey {
        if (tenant == null || identifier == null) {
            throw new IllegalArgumentException("a session is named by tenant and identifier");
        }
    }
}
