package io.sandstream.security;

import static io.restassured.RestAssured.given;
import static io.sandstream.security.TestIdentity.v2Claims;
import static io.sandstream.security.TestIdentity.with;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;

/** {@code sandstream.security.ingress-auth=key-or-bearer}: a valid key or a valid token, either one. */
@Tag("restart")
@QuarkusTest
@TestProfile(KeyOrBearerIngressTest.Profile.class)
class KeyOrBearerIngressTest {

    public static class Profile implements QuarkusTestProfile {
        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(EntraIdentityResource.class, java.util.Map.of("mode", "key-or-bearer")));
        }
    }

    @EntraIdentityResource.InjectIdentity
    TestIdentity identity;

    @Test
    void eitherCredentialDelivers() {
        given().queryParam("code", "test-key-primary").contentType("application/cloudevents+json")
                .body(BearerIngressTest.event()).post("/events").then().statusCode(202);
        BearerIngressTest.bearer(identity.sign(v2Claims())).contentType("application/cloudevents+json")
                .body(BearerIngressTest.event()).post("/events").then().statusCode(202);
        // A valid key is enough even next to a token that is not valid.
        BearerIngressTest.bearer("garbage").header("aeg-sas-key", "test-key-secondary")
                .contentType("application/cloudevents+json").body(BearerIngressTest.event()).post("/events").then()
                .statusCode(202);
    }

    @Test
    void neitherIs401() {
        BearerIngressTest.bearer(identity.sign(with(v2Claims(), c -> c.setAudience("api://other"))))
                .queryParam("code", "wrong").contentType("application/cloudevents+json").body(BearerIngressTest.event())
                .post("/events").then().statusCode(401);
        given().contentType("application/cloudevents+json").body(BearerIngressTest.event()).post("/events").then()
                .statusCode(401);
    }
}
