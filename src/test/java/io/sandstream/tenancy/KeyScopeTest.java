package io.sandstream.tenancy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;
import io.sandstream.model.Tenant;

/** Scopes match on path-segment boundaries, and work acts as the tenant its key's scope names. */
class KeyScopeTest {

    @Test
    void aPrefixCoversItselfAndWhatIsBelowItNeverANeighbour() {
        KeyScope a = new KeyScope(List.of("code-execution/tenant-a"));
        assertTrue(a.covers("code-execution/tenant-a"));
        assertTrue(a.covers("code-execution/tenant-a/x"));
        assertFalse(a.covers("code-execution/tenant-abc/x"));
        assertFalse(a.covers("code-execution/tenant-abc"));
        assertFalse(a.covers("code-execution"));
        assertFalse(a.covers(null));
        KeyScope slash = new KeyScope(List.of("tenant-a/"));
        assertTrue(slash.covers("tenant-a/x"));
        assertFalse(slash.covers("tenant-ab/x"));
        assertTrue(KeyScope.UNSCOPED.covers(null));
    }

    @Test
    void aScopedKeyActsAsItsOwnLongestCoveringPrefix() {
        TenantPrefixes configured = new TenantPrefixes();
        configured.publish("api-keys", List.of("t/a", "t/a/sub", "t/b", "*"));
        KeyScope key = new KeyScope(List.of("t/a", "t/c"));
        assertEquals(new Tenant("t/a"), key.tenantFor("t/a/sub/x", configured), "never another key's sub-tenant");
        assertEquals(new Tenant("t/c"), key.tenantFor("t/c/x", configured));
        assertEquals(new Tenant("t/a"), key.poolTenant());
    }

    @Test
    void unscopedWorkBelongsToTheLongestConfiguredPrefixElseTheSharedTenant() {
        TenantPrefixes configured = new TenantPrefixes();
        configured.publish("api-keys", List.of("t/a", "t/a/sub", "*"));
        configured.publish("ingress-keys", List.of("t/b"));
        assertEquals(new Tenant("t/a/sub"), KeyScope.UNSCOPED.tenantFor("t/a/sub/x", configured));
        assertEquals(new Tenant("t/a"), KeyScope.UNSCOPED.tenantFor("t/a/subway", configured));
        assertEquals(new Tenant("t/b"), KeyScope.UNSCOPED.tenantFor("t/b", configured));
        assertEquals(Tenant.SHARED, KeyScope.UNSCOPED.tenantFor("t/bc", configured));
        assertEquals(Tenant.SHARED, KeyScope.UNSCOPED.tenantFor(null, configured));
        assertEquals(Tenant.SHARED, KeyScope.UNSCOPED.poolTenant());
        configured.publish("ingress-keys", List.of());
        assertEquals(Tenant.SHARED, KeyScope.UNSCOPED.tenantFor("t/b/x", configured), "a rotated-out prefix is gone");
    }
}
