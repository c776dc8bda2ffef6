package io.sandstream.tenancy;

import java.util.List;
import io.sandstream.model.Tenant;

/**
 * What a key may do: subjects under one of its prefixes, on path-segment boundaries ({@code *}:
 * every subject, the operator). The same scope shape serves API keys and ingress keys; an unscoped ingress key has
 * the scope {@link #UNSCOPED}.
 */
public record KeyScope(List<String> prefixes) {

    public static final String EVERY_SUBJECT = "*";
    public static final KeyScope UNSCOPED = new KeyScope(List.of(EVERY_SUBJECT));

    public KeyScope {
        prefixes = List.copyOf(prefixes);
    }

    public boolean covers(String subject) {
        for (String prefix : prefixes) {
            if (prefix.equals(EVERY_SUBJECT) || within(prefix, subject)) {
                return true;
            }
        }
        return false;
    }

    /**
     * True when {@code subject} is under {@code prefix} on a path-segment boundary: {@code a/b}
     * covers {@code a/b} and {@code a/b/…}, never {@code a/bc}. A prefix that ends with {@code /}
     * covers what starts with it.
     */
    public static boolean within(String prefix, String subject) {
        if (subject == null || !subject.startsWith(prefix)) {
            return false;
        }
        return subject.length() == prefix.length() || prefix.endsWith("/") || subject.charAt(prefix.length()) == '/';
    }

    /** True for the operator's scope (and an unscoped ingress key's): every subject. */
    public boolean operator() {
        return prefixes.contains(EVERY_SUBJECT);
    }

    /** The subject given to work a key submits without one. */
    public String defaultSubject() {
        return operator() ? null : prefixes.get(0);
    }

    /**
     * The tenant that work under {@code subject} acts as: for a scoped key the longest of its own
     * prefixes that covers the subject (a key only ever acts as itself); for the operator or an
     * unscoped key the tenant whose configured prefix covers the subject, else the shared one.
     * Call only for a subject the scope {@link #covers}.
     */
    public Tenant tenantFor(String subject, TenantPrefixes configured) {
        String longest = null;
        for (String prefix : prefixes) {
            if (!prefix.equals(EVERY_SUBJECT) && within(prefix, subject)
                    && (longest == null || prefix.length() > longest.length())) {
                longest = prefix;
            }
        }
        if (longest != null) {
            return new Tenant(longest);
        }
        return operator() ? configured.of(subject) : Tenant.SHARED;
    }

    /**
     * The tenant a pool-API call (which names no subject) acts as: a scoped key's first prefix; the
     * operator acts in the shared tenant (and may list every tenant's sessions).
     */
    public Tenant poolTenant() {
        return operator() ? Tenant.SHARED : new Tenant(prefixes.get(0));
    }
}
