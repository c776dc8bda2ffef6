package io.sandstream.security;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import org.jose4j.jwk.JsonWebKey;
import org.jose4j.jwk.JsonWebKeySet;
import org.jose4j.jwk.RsaJsonWebKey;
import org.jose4j.jwk.RsaJwkGenerator;
import org.jose4j.jws.AlgorithmIdentifiers;
import org.jose4j.jws.JsonWebSignature;
import org.jose4j.jwt.JwtClaims;
import org.jose4j.jwt.NumericDate;
import org.jose4j.lang.JoseException;

import com.sun.net.httpserver.HttpServer;

import io.sandstream.config.SecurityConfig;

/**
 * A stand-in for an Entra ID tenant: locally generated RSA signing keys, published as a JWKS by a
 * small HTTP server on loopback (the fetches are counted), and access tokens signed with them in
 * the shapes Entra issues to Event Grid (v1: {@code sts.windows.net} issuer and {@code appid}; v2:
 * {@code login.microsoftonline.com/.../v2.0} and {@code azp}).
 */
public final class TestIdentity implements AutoCloseable {

    public static final String TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    public static final String OTHER_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
    public static final String APP_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    public static final String APP_ID_URI = "api://sandstream-webhook";
    public static final String ROLE = "AzureEventGridSecureWebhookSubscriber";

    private final HttpServer server;
    private final List<RsaJsonWebKey> published = new CopyOnWriteArrayList<>();
    private final AtomicInteger fetches = new AtomicInteger();
    private final RsaJsonWebKey signing;

    public TestIdentity() {
        try {
            signing = newKey("key-1");
            published.add(signing);
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
            server.createContext("/" + TENANT + "/discovery/v2.0/keys", exchange -> {
                fetches.incrementAndGet();
                byte[] body = new JsonWebKeySet(List.<JsonWebKey>copyOf(published)).toJson(JsonWebKey.OutputControlLevel.PUBLIC_ONLY)
                        .getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().add("Content-Type", "application/json");
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            });
            server.start();
        } catch (IOException | JoseException e) {
            throw new IllegalStateException(e);
        }
    }

    public static RsaJsonWebKey newKey(String kid) throws JoseException {
        RsaJsonWebKey key = RsaJwkGenerator.generateJwk(2048);
        key.setKeyId(kid);
        key.setAlgorithm(AlgorithmIdentifiers.RSA_USING_SHA256);
        return key;
    }

    public String jwksUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/" + TENANT + "/discovery/v2.0/keys";
    }

    /** The settings that point the service at this tenant (bearer tokens for {@link #APP_ID}). */
    public Map<String, String> config(String mode) {
        return Map.of("sandstream.security.ingress-auth", mode,
                "sandstream.security.entra.tenant-id", TENANT,
                "sandstream.security.entra.audiences", APP_ID + "," + APP_ID_URI,
                "sandstream.security.entra.jwks-url", jwksUrl(),
                "sandstream.security.entra.jwks-min-refetch", "0s");
    }

    public int fetches() {
        return fetches.get();
    }

    public RsaJsonWebKey signingKey() {
        return signing;
    }

    /** Publishes another key (a rotation at the tenant). */
    public void publish(RsaJsonWebKey key) {
        published.add(key);
    }

    /** Claims of a v1 token as Event Grid gets it for the webhook app (app id URI audience, {@code appid}). */
    public static JwtClaims v1Claims() {
        return claims("https://sts.windows.net/" + TENANT + "/", APP_ID_URI, "1.0", "appid");
    }

    /** Claims of a v2 token (application id audience, {@code azp}). */
    public static JwtClaims v2Claims() {
        return claims("https://login.microsoftonline.com/" + TENANT + "/v2.0", APP_ID, "2.0", "azp");
    }

    private static JwtClaims claims(String issuer, String audience, String version, String clientClaim) {
        JwtClaims claims = baseClaims();
        claims.setIssuer(issuer);
        claims.setAudience(audience);
        claims.setClaim("ver", version);
        claims.setClaim(clientClaim, SecurityConfig.EVENT_GRID_APP_ID);
        return claims;
    }

    private static JwtClaims baseClaims() {
        JwtClaims claims = new JwtClaims();
        claims.setClaim("tid", TENANT);
        claims.setSubject("9a0b1c2d-3e4f-5061-7283-94a5b6c7d8e9");
        claims.setClaim("oid", "9a0b1c2d-3e4f-5061-7283-94a5b6c7d8e9");
        claims.setStringListClaim("roles", ROLE);
        claims.setIssuedAtToNow();
        claims.setNotBeforeMinutesInThePast(1);
        claims.setExpirationTimeMinutesInTheFuture(60);
        return claims;
    }

    public static JwtClaims with(JwtClaims claims, Consumer<JwtClaims> change) {
        change.accept(claims);
        return claims;
    }

    public static NumericDate minutesFromNow(int minutes) {
        NumericDate date = NumericDate.now();
        date.addSeconds(minutes * 60L);
        return date;
    }

    /** The claims signed RS256 by {@code key}, its {@code kid} in the header. */
    public static String sign(JwtClaims claims, RsaJsonWebKey key) {
        try {
            JsonWebSignature jws = new JsonWebSignature();
            jws.setPayload(claims.toJson());
            jws.setKey(key.getPrivateKey());
            jws.setKeyIdHeaderValue(key.getKeyId());
            jws.setAlgorithmHeaderValue(AlgorithmIdentifiers.RSA_USING_SHA256);
            jws.setHeader("typ", "JWT");
            return jws.getCompactSerialization();
        } catch (JoseException e) {
            throw new IllegalStateException(e);
        }
    }

    public String sign(JwtClaims claims) {
        return sign(claims, signing);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
