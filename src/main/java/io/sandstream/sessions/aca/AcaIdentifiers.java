package io.sandstream.sessions.aca;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import io.sandstream.sessions.SessionKey;

/**
 * The identifier a tenant's session has in Azure: a keyed hash of the tenant, then the tenant's
 * own identifier ({@code t<20 hex>-<identifier>}), so two tenants' {@code s1} are two ACA sessions
 * and no tenant can name another's. An identifier too long to carry whole (ACA allows 128
 * characters) is replaced by its hash, which stays one-to-one in practice.
 */
final class AcaIdentifiers {

    private static final int MAX_LENGTH = 128;
    private static final int TENANT_HEX = 20;

    private final byte[] key;

    /** {@code key}: the deployment's {@code sandstream.tenants.aca-identifier-key}; empty: an unkeyed hash. */
    AcaIdentifiers(String key) {
        this.key = (key == null || key.isEmpty() ? "sandstream-aca-identifiers" : key).getBytes(StandardCharsets.UTF_8);
    }

    String remote(SessionKey session) {
        String tenant = "t" + hmac("tenant\n" + session.tenant().id()).substring(0, TENANT_HEX) + "-";
        String identifier = session.identifier();
        return tenant.length() + identifier.length() <= MAX_LENGTH ? tenant + identifier
                : tenant + hmac("identifier\n" + session.tenant().id() + "\n" + identifier);
    }

    private String hmac(String value) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(value.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }
}
