package io.sandstream.security;

import static io.sandstream.security.TestIdentity.sign;
import static io.sandstream.security.TestIdentity.v1Claims;
import static io.sandstream.security.TestIdentity.v2Claims;
import static io.sandstream.security.TestIdentity.with;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

import org.jose4j.jwk.RsaJsonWebKey;
import org.jose4j.jws.AlgorithmIdentifiers;
import org.jose4j.jws.JsonWebSignature;
import org.jose4j.jwt.JwtClaims;
import org.jose4j.keys.HmacKey;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.sandstream.config.SecurityConfig;
import io.sandstream.config.TestConfigs;

/**
 * The accept/reject matrix of Entra ID tokens, against a locally generated key set served over HTTP
 * by {@link TestIdentity} (so the key fetching, caching and refetching are the real ones).
 */
class EntraTokenValidatorTest {

    static TestIdentity identity;
    static EntraTokenValidator validator;

    @BeforeAll
    static void start() {
        identity = new TestIdentity();
        validator = validator(Map.of());
    }

    @AfterAll
    static void stop() {
        identity.close();
    }

    static EntraTokenValidator validator(Map<String, String> overrides) {
        Map<String, String> properties = new HashMap<>(identity.config("bearer"));
        properties.putAll(overrides);
        return new EntraTokenValidator(TestConfigs.sandstream(properties).security().entra());
    }

    static void accepted(EntraTokenValidator v, String token) throws Exception {
        v.validate(token);
    }

    static void refused(EntraTokenValidator v, String token) {
        assertThrows(EntraTokenValidator.InvalidTokenException.class, () -> v.validate(token));
    }

    @Test
    void validV1AndV2TokensFromEventGridAreAccepted() throws Exception {
        accepted(validator, identity.sign(v1Claims()));
        accepted(validator, identity.sign(v2Claims()));
        // Either configured audience, in either version.
        accepted(validator, identity.sign(with(v1Claims(), c -> c.setAudience(TestIdentity.APP_ID))));
        accepted(validator, identity.sign(with(v2Claims(), c -> c.setAudience(TestIdentity.APP_ID_URI))));
    }

    @Test
    void anotherTenantsIssuerOrTenantIdIsRefused() {
        refused(validator, identity.sign(with(v1Claims(), c -> c.setIssuer("https://sts.windows.net/" + TestIdentity.OTHER_TENANT + "/"))));
        refused(validator, identity.sign(with(v2Claims(),
                c -> c.setIssuer("https://login.microsoftonline.com/" + TestIdentity.OTHER_TENANT + "/v2.0"))));
        refused(validator, identity.sign(with(v2Claims(), c -> c.setIssuer("https://login.microsoftonline.com/common/v2.0"))));
        refused(validator, identity.sign(with(v2Claims(), c -> c.setClaim("tid", TestIdentity.OTHER_TENANT))));
        refused(validator, identity.sign(with(v2Claims(), c -> c.unsetClaim("iss"))));
    }

    @Test
    void anotherAudienceIsRefused() {
        refused(validator, identity.sign(with(v2Claims(), c -> c.setAudience("https://management.azure.com/"))));
        refused(validator, identity.sign(with(v2Claims(), c -> c.unsetClaim("aud"))));
    }

    @Test
    void expiryAndNotBeforeAreCheckedWithTheClockSkew() throws Exception {
        refused(validator, identity.sign(with(v2Claims(), c -> c.setExpirationTime(TestIdentity.minutesFromNow(-5)))));
        refused(validator, identity.sign(with(v2Claims(), c -> c.setNotBefore(TestIdentity.minutesFromNow(5)))));
        refused(validator, identity.sign(with(v2Claims(), c -> c.unsetClaim("exp"))));
        // Within the 60 s skew: a clock a little behind or ahead does not break delivery.
        accepted(validator, identity.sign(with(v2Claims(), c -> {
            var justExpired = org.jose4j.jwt.NumericDate.now();
            justExpired.addSeconds(-20);
            c.setIssuedAt(TestIdentity.minutesFromNow(-10));
            c.setNotBefore(TestIdentity.minutesFromNow(-10));
            c.setExpirationTime(justExpired);
        })));
    }

    @Test
    void aBadSignatureIsRefused() throws Exception {
        // Another key claiming the published kid.
        RsaJsonWebKey impostor = TestIdentity.newKey(identity.signingKey().getKeyId());
        refused(validator, sign(v2Claims(), impostor));
        // A payload changed after signing.
        String[] parts = identity.sign(v2Claims()).split("\\.");
        JwtClaims forged = with(v2Claims(), c -> c.setStringListClaim("roles", "Admin", TestIdentity.ROLE));
        String payload = Base64.getUrlEncoder().withoutPadding().encodeToString(forged.toJson().getBytes(StandardCharsets.UTF_8));
        refused(validator, parts[0] + "." + payload + "." + parts[2]);
        refused(validator, "not-a-token");
        refused(validator, "");
    }

    @Test
    void anUnknownKidIsLookedUpAgainThenRefused() throws Exception {
        RsaJsonWebKey unpublished = TestIdentity.newKey("never-published");
        accepted(validator, identity.sign(v2Claims())); // keys cached
        int before = identity.fetches();
        refused(validator, sign(v2Claims(), unpublished));
        assertTrue(identity.fetches() > before, "an unknown kid makes the key set be fetched again");
    }

    @Test
    void aKeyPublishedLaterIsFoundByFetchingAgain() throws Exception {
        accepted(validator, identity.sign(v2Claims()));
        RsaJsonWebKey rotated = TestIdentity.newKey("key-rotated");
        identity.publish(rotated);
        int before = identity.fetches();
        accepted(validator, sign(v2Claims(), rotated));
        assertEquals(before + 1, identity.fetches());
        accepted(validator, sign(v1Claims(), rotated));
        assertEquals(before + 1, identity.fetches(), "known keys come from the cache");
    }

    @Test
    void onlyEventGridsApplicationIsAcceptedByDefault() {
        refused(validator, identity.sign(with(v2Claims(), c -> c.setClaim("azp", "11111111-2222-3333-4444-555555555555"))));
        refused(validator, identity.sign(with(v1Claims(), c -> c.setClaim("appid", "11111111-2222-3333-4444-555555555555"))));
        refused(validator, identity.sign(with(v2Claims(), c -> c.unsetClaim("azp"))));
    }

    @Test
    void aRequiredRoleMustBeHeldAndAnyAppMayBeAllowed() throws Exception {
        EntraTokenValidator byRole = validator(Map.of("sandstream.security.entra.required-roles", TestIdentity.ROLE,
                "sandstream.security.entra.allowed-client-ids", "*"));
        accepted(byRole, identity.sign(with(v2Claims(), c -> c.setClaim("azp", "11111111-2222-3333-4444-555555555555"))));
        refused(byRole, identity.sign(with(v2Claims(), c -> c.unsetClaim("roles"))));
        refused(byRole, identity.sign(with(v2Claims(), c -> c.setStringListClaim("roles", "SomethingElse"))));
        // Without a required role, a token without roles from the allowed app is fine.
        accepted(validator, identity.sign(with(v2Claims(), c -> c.unsetClaim("roles"))));
    }

    @Test
    void algNoneAndHmacWithThePublicKeyAreRefused() throws Exception {
        JsonWebSignature none = new JsonWebSignature();
        none.setPayload(v2Claims().toJson());
        none.setAlgorithmHeaderValue(AlgorithmIdentifiers.NONE);
        none.setKeyIdHeaderValue(identity.signingKey().getKeyId());
        none.setAlgorithmConstraints(org.jose4j.jwa.AlgorithmConstraints.NO_CONSTRAINTS);
        refused(validator, none.getCompactSerialization());

        JsonWebSignature hmac = new JsonWebSignature();
        hmac.setPayload(v2Claims().toJson());
        hmac.setAlgorithmHeaderValue(AlgorithmIdentifiers.HMAC_SHA256);
        hmac.setKeyIdHeaderValue(identity.signingKey().getKeyId());
        hmac.setKey(new HmacKey(identity.signingKey().getPublicKey().getEncoded()));
        refused(validator, hmac.getCompactSerialization());
    }

    @Test
    void bearerAuthenticationNeedsATenantAndAnAudience() {
        Map<String, String> noAudience = new HashMap<>(identity.config("bearer"));
        noAudience.remove("sandstream.security.entra.audiences");
        SecurityConfig.Entra config = TestConfigs.sandstream(noAudience).security().entra();
        assertThrows(IllegalStateException.class, () -> new EntraTokenValidator(config));
    }
}
