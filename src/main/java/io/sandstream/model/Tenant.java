package io.sandstream.model;

/**
 * Who owns a session, its files and its executions (API.md §3). A tenant is named by the subject
 * prefix of the scoped key it acts under; work of no scoped tenant (unscoped ingress keys, the
 * operator's {@code *} key, subjects no tenant's prefix covers) belongs to the {@link #SHARED}
 * tenant. Two tenants never see each other's sessions, even under the same identifier.
 *
 * @param id the tenant's subject prefix; empty for the shared tenant
 */
public record Tenant(String id) {

    /** The platform's own tenant: unscoped keys and the operator act in it. */
    public static final Tenant SHARED = new Tenant("");

    public Tenant {
        if (id == null) {
            throw new IllegalArgumentException("a tenant id is a subject prefix, never null");
        }
    }

    /** The tenant a journalled id names (null or empty: the shared one). */
    public static Tenant of(String id) {
        return id == null || id.isEmpty() ? SHARED : new Tenant(id);
    }

    public boolean shared() {
        return id.isEmpty();
    }

    /** For logs, metrics and the operator's listings. */
    @Override
    public String toString() {
        return shared() ? "(shared)" : id;
    }
}
