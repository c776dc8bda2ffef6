package io.sandstream.security;

import static io.restassured.RestAssured.given;
import static io.sandstream.security.TestIdentity.v1Claims;
import static io.sandstream.security.TestIdentity.v2Claims;
import static io.sandstream.security.TestIdentity.with;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;

import java.util.UUID;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.specification.RequestSpecification;

/**
 * {@code sandstream.security.ingress-auth=bearer}: Event Grid's secure webhook delivery with Entra ID
 * tokens, over HTTP. Keys are refused in this mode; {@link KeyOrBearerIngressTest} covers the other.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(BearerIngressTest.Profile.class)
class BearerIngressTest {

    public static class Profile implements QuarkusTestProfile {
        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(EntraIdentityResource.class, java.util.Map.of("mode", "bearer")));
        }
    }

    @EntraIdentityResource.InjectIdentity
    TestIdentity identity;

    static String event() {
        return """
                {"specversion":"1.0","id":"%s","source":"/tests/entra","type":"io.sandstream.code.execute","data":{"code":"1"}}"""
                .formatted(UUID.randomUUID());
    }

    static RequestSpecification bearer(String token) {
        return given().header("Authorization", "Bearer " + token);
    }

    @Test
    void eventGridTokensDeliver() {
        bearer(identity.sign(v1Claims())).contentType("application/cloudevents+json").body(event())
                .post("/events").then().statusCode(202).body("accepted", hasSize(1));
        bearer(identity.sign(v2Claims())).contentType("application/cloudevents-batch+json").body("[" + event() + "]")
                .post("/events").then().statusCode(202).body("accepted", hasSize(1));
    }

    @Test
    void theHandshakeIsAnsweredToEventGridsToken() {
        bearer(identity.sign(v1Claims())).header("WebHook-Request-Origin", "eventgrid.azure.net")
                .options("/events").then().statusCode(200).header("WebHook-Allowed-Origin", "eventgrid.azure.net");
        given().header("WebHook-Request-Origin", "eventgrid.azure.net").options("/events").then()
                .statusCode(401).header("WWW-Authenticate", containsString("Bearer"));
    }

    @Test
    void badTokensAndMissingTokensAre401() {
        String[] bad = {
            identity.sign(with(v2Claims(), c -> c.setAudience("api://someone-else"))),
            identity.sign(with(v2Claims(), c -> c.setExpirationTime(TestIdentity.minutesFromNow(-10)))),
            identity.sign(with(v2Claims(), c -> c.setClaim("azp", "11111111-2222-3333-4444-555555555555"))),
            identity.sign(with(v1Claims(), c -> c.setIssuer("https://sts.windows.net/" + TestIdentity.OTHER_TENANT + "/"))),
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
            "garbage",
        };
        for (String token : bad) {
            bearer(token).contentType("application/cloudevents+json").body(event()).post("/events").then()
                    .statusCode(401).contentType("application/problem+json")
                    .header("WWW-Authenticate", containsString("Bearer"))
                    .body("status", equalTo(401));
        }
        given().contentType("application/cloudevents+json").body(event()).post("/events").then().statusCode(401);
    }

    @Test
    void keysAreRefusedWhenOnlyTokensAreConfigured() {
        given().queryParam("code", "test-key-primary").contentType("application/cloudevents+json").body(event())
                .post("/events").then().statusCode(401);
        given().header("aeg-sas-key", "test-key-primary").contentType("application/cloudevents+json").body(event())
                .post("/events").then().statusCode(401);
    }
}
