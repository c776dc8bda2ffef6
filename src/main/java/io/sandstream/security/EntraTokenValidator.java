package io.sandstream.security;

import java.util.List;
import java.util.Optional;

import org.jose4j.jwa.AlgorithmConstraints;
import org.jose4j.jwk.HttpsJwks;
import org.jose4j.jws.AlgorithmIdentifiers;
import org.jose4j.jwt.JwtClaims;
import org.jose4j.jwt.MalformedClaimException;
import org.jose4j.jwt.consumer.InvalidJwtException;
import org.jose4j.jwt.consumer.JwtConsumer;
import org.jose4j.jwt.consumer.JwtConsumerBuilder;
import org.jose4j.keys.resolvers.HttpsJwksVerificationKeyResolver;

import io.sandstream.config.SecurityConfig;

/**
 * Checks a Microsoft Entra ID access token as Event Grid sends it to a secured webhook, with jose4j
 * (the JOSE library smallrye-jwt is built on): an RS256 signature by one of the tenant's keys
 * (fetched from the JWKS URL, cached, fetched again for an unknown {@code kid}), the tenant's v1 or
 * v2 issuer, one of the configured audiences, {@code exp}/{@code nbf} within the clock skew, the
 * tenant id, the calling application and the required app roles. Blocking: a key fetch is plain
 * HTTP, so call it off the event loop.
 */
public final class EntraTokenValidator {

    /** Why a token was refused; logged at debug level, never sent to the caller. */
    public static final class InvalidTokenException extends Exception {
        InvalidTokenException(String reason) {
            super(reason, null, false, false);
        }
    }

    private final String tenantId;
    private final List<String> allowedClients;
    private final List<String> requiredRoles;
    private final JwtConsumer consumer;

    public EntraTokenValidator(SecurityConfig.Entra config) {
        this.tenantId = config.tenantId().filter(t -> !t.isBlank()).orElseThrow(() -> new IllegalStateException(
                "sandstream.security.entra.tenant-id is required for bearer authentication"));
        List<String> audiences = config.audiences().orElse(List.of()).stream().map(String::trim).filter(a -> !a.isEmpty()).toList();
        if (audiences.isEmpty()) {
            throw new IllegalStateException("sandstream.security.entra.audiences is required for bearer authentication"
                    + " (the webhook app's application id and/or application id URI)");
        }
        this.allowedClients = config.allowedClientIds().stream().map(String::trim).filter(c -> !c.isEmpty()).toList();
        this.requiredRoles = config.requiredRoles().orElse(List.of());
        HttpsJwks jwks = new HttpsJwks(config.jwksUrl()
                .orElse("https://login.microsoftonline.com/" + tenantId + "/discovery/v2.0/keys"));
        jwks.setDefaultCacheDuration(config.jwksCache().toSeconds());
        // A key endpoint that fails for a moment does not lock everyone out: the last keys stay in use.
        jwks.setRetainCacheOnErrorDuration(config.jwksCache().toSeconds());
        jwks.setRefreshReprieveThreshold(config.jwksMinRefetch().toMillis());
        this.consumer = new JwtConsumerBuilder()
                .setRequireExpirationTime()
                .setAllowedClockSkewInSeconds((int) config.clockSkew().toSeconds())
                .setExpectedIssuers(true, "https://sts.windows.net/" + tenantId + "/",
                        "https://login.microsoftonline.com/" + tenantId + "/v2.0")
                .setExpectedAudience(true, audiences.toArray(String[]::new))
                .setVerificationKeyResolver(new HttpsJwksVerificationKeyResolver(jwks))
                // Entra signs access tokens with RS256; anything else (none, HS256 with the public key) is refused.
                .setJwsAlgorithmConstraints(AlgorithmConstraints.ConstraintType.PERMIT, AlgorithmIdentifiers.RSA_USING_SHA256)
                .build();
    }

    /** The token's claims when it is acceptable, else an {@link InvalidTokenException} saying why. */
    public JwtClaims validate(String token) throws InvalidTokenException {
        JwtClaims claims;
        try {
            claims = consumer.processToClaims(token);
        } catch (InvalidJwtException e) {
            throw new InvalidTokenException(e.getMessage());
        }
        try {
            if (!tenantId.equalsIgnoreCase(claims.getStringClaimValue("tid"))) {
                throw new InvalidTokenException("tid is not the configured tenant");
            }
            String client = Optional.ofNullable(claims.getStringClaimValue("azp"))
                    .orElse(claims.getStringClaimValue("appid"));
            if (!allowedClients.contains("*") && (client == null || allowedClients.stream().noneMatch(client::equalsIgnoreCase))) {
                throw new InvalidTokenException("calling application " + client + " is not allowed");
            }
            List<String> roles = claims.hasClaim("roles") ? claims.getStringListClaimValue("roles") : List.of();
            for (String role : requiredRoles) {
                if (!roles.contains(role)) {
                    throw new InvalidTokenException("the token lacks the app role " + role);
                }
            }
        } catch (MalformedClaimException e) {
            throw new InvalidTokenException("malformed claim: " + e.getMessage());
        }
        return claims;
    }
}
