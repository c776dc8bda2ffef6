package io.sandstream.secrets;

import static io.restassured.RestAssured.given;

import java.util.Map;
import java.util.Set;
import java.util.UUID;

import jakarta.inject.Inject;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;

/**
 * The service with {@code sandstream.security.key-vault.url} set: ingress and API keys come from
 * the vault (the configured ones no longer open anything), and a rotation in the vault takes effect
 * at the next refresh, triggered here instead of waited for.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(KeyVaultRotationTest.WithVault.class)
class KeyVaultRotationTest {

    static final RecordedKeyVault VAULT = RecordedKeyVaultClients.VAULT;

    public static class WithVault implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            VAULT.clear();
            VAULT.set("ingress-keys", "vault-ingress-1");
            VAULT.set("api-keys", "vault-api-1@*");
            return Map.of("sandstream.security.key-vault.url", RecordedKeyVault.URL,
                    "sandstream.security.key-vault.refresh", "1h");
        }

        @Override
        public Set<Class<?>> getEnabledAlternatives() {
            return Set.of(RecordedKeyVaultClients.class);
        }
    }

    @Inject
    Secrets secrets;

    @BeforeEach
    void baseline() {
        VAULT.failWith(null);
        VAULT.set("ingress-keys", "vault-ingress-1");
        VAULT.set("api-keys", "vault-api-1@*");
        secrets.refresh();
    }

    static int deliver(String key) {
        String event = """
                {"specversion":"1.0","id":"%s","source":"/tests/vault","type":"io.sandstream.code.execute","data":{"code":"1"}}"""
                .formatted(UUID.randomUUID());
        return given().header("aeg-sas-key", key).contentType("application/cloudevents+json").body(event).post("/events")
                .then().extract().statusCode();
    }

    /** 404 for an unknown execution means the key was accepted; 401 that it was not. */
    static int read(String apiKey) {
        return given().header("Authorization", "Bearer " + apiKey).get("/executions/" + UUID.randomUUID()).then()
                .extract().statusCode();
    }

    static void expect(int status, int actual) {
        org.junit.jupiter.api.Assertions.assertEquals(status, actual);
    }

    @Test
    void theVaultsKeysReplaceTheConfiguredOnes() {
        expect(202, deliver("vault-ingress-1"));
        expect(401, deliver("test-key-primary"));
        expect(404, read("vault-api-1"));
        expect(401, read("test-reader"));
    }

    @Test
    void aNewKeyWorksAfterTheRefreshAndTheOldStopsOnceRemoved() {
        VAULT.set("ingress-keys", "vault-ingress-2,vault-ingress-1");
        VAULT.set("api-keys", "vault-api-2@*,vault-api-1@*");
        expect(401, deliver("vault-ingress-2")); // not read yet
        secrets.refresh();
        expect(202, deliver("vault-ingress-2"));
        expect(202, deliver("vault-ingress-1"));
        expect(404, read("vault-api-2"));
        expect(404, read("vault-api-1"));

        VAULT.set("ingress-keys", "vault-ingress-2");
        VAULT.set("api-keys", "vault-api-2@*");
        secrets.refresh();
        expect(202, deliver("vault-ingress-2"));
        expect(401, deliver("vault-ingress-1"));
        expect(404, read("vault-api-2"));
        expect(401, read("vault-api-1"));
    }

    @Test
    void aVaultOutageKeepsTheKeysInForce() {
        VAULT.failWith("service-unavailable");
        VAULT.set("ingress-keys", "never-read");
        secrets.refresh();
        expect(202, deliver("vault-ingress-1"));
        expect(401, deliver("never-read"));
    }

    @Test
    void aDisabledSecretFallsBackToTheConfiguredKeys() {
        VAULT.disable("ingress-keys");
        secrets.refresh();
        expect(202, deliver("test-key-primary"));
        expect(401, deliver("vault-ingress-1"));
    }
}
