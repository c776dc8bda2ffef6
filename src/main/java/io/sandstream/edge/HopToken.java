package io.sandstream.edge;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Base64;
import java.util.List;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import org.jboss.logging.Logger;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.poolapi.PeerSessions;

/**
 * What marks a call as forwarded by another instance: an HMAC of its method, its request-target
 * and an expiry a minute ahead, under the cluster's shared secret. A forwarded call is never
 * forwarded again, so the mark must not be something a caller can add: without the secret it is
 * refused, and a captured one is good for that one request-target for a minute.
 */
final class HopToken {

    static final String HEADER = PeerSessions.HOP_HEADER;
    private static final Logger LOG = Logger.getLogger(HopToken.class);
    private static final long LIFETIME_SECONDS = 60;

    private final SecretKeySpec key;
    private final Clock clock;

    HopToken(byte[] secret, Clock clock) {
        this.key = new SecretKeySpec(secret, "HmacSHA256");
        this.clock = clock;
    }

    /**
     * {@code sandstream.cluster.secret}; else derived from {@code sandstream.api-keys}, which every
     * instance of one cluster is configured with; else (keys generated per instance) a random one,
     * and forwarded calls are refused by the other instances.
     */
    static byte[] secret(SandstreamConfig config) {
        if (config.cluster().secret().isPresent()) {
            return config.cluster().secret().get().getBytes(StandardCharsets.UTF_8);
        }
        if (config.apiKeys().isPresent()) {
            List<String> keys = config.apiKeys().get().stream().sorted().toList();
            return sha256("sandstream-hop\n" + String.join("\n", keys));
        }
        LOG.warn("neither sandstream.cluster.secret nor sandstream.api-keys is set: the other instances will refuse "
                + "the session calls this one forwards");
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        return random;
    }

    String sign(String method, String requestTarget) {
        long expiry = clock.instant().getEpochSecond() + LIFETIME_SECONDS;
        return expiry + "." + mac(method, requestTarget, expiry);
    }

    boolean valid(String token, String method, String requestTarget) {
        int dot = token == null ? -1 : token.indexOf('.');
        if (dot < 1) {
            return false;
        }
        long expiry;
        try {
            expiry = Long.parseLong(token.substring(0, dot));
        } catch (NumberFormatException e) {
            return false;
        }
        long now = clock.instant().getEpochSecond();
        return expiry >= now && expiry <= now + LIFETIME_SECONDS
                && MessageDigest.isEqual(mac(method, requestTarget, expiry).getBytes(StandardCharsets.US_ASCII),
                        token.substring(dot + 1).getBytes(StandardCharsets.US_ASCII));
    }

    private String mac(String method, String requestTarget, long expiry) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            byte[] signed = mac.doFinal((method + "\n" + requestTarget + "\n" + expiry).getBytes(StandardCharsets.UTF_8));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(signed);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
