package io.sandstream.security;

import static io.sandstream.security.TestIdentity.v2Claims;
import static io.sandstream.security.TestIdentity.with;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.sandstream.edge.RawHttp;

/**
 * Credentials before bodies with Entra ID tokens on {@code /events}: the guard validates the token
 * itself (on a worker), so a well-formed but forged token does not get the body read either, and a
 * valid token's body, sent while the token is checked, arrives whole.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(BearerIngressTest.Profile.class)
class CredentialGuardBearerTest {

    @EntraIdentityResource.InjectIdentity
    TestIdentity identity;

    @TestHTTPResource("/")
    URI base;

    static Map<String, String> headers(String token, long length) {
        return Map.of("Content-Type", "application/cloudevents+json", "Content-Length", Long.toString(length),
                "Authorization", "Bearer " + token);
    }

    static void assertRefused(RawHttp.Answer answer) {
        assertEquals(401, answer.status(), answer.toString());
        assertEquals("Bearer error=\"invalid_token\"", answer.header("WWW-Authenticate"), answer.toString());
        assertEquals("application/problem+json", answer.header("Content-Type"), answer.toString());
        assertTrue(answer.closed(), answer.toString());
    }

    @Test
    void aForgedTokenGetsNoBodyRead() throws Exception {
        String forged = identity.sign(with(v2Claims(), c -> c.setAudience("api://someone-else")));
        assertRefused(RawHttp.headOnly(base, RawHttp.head("POST", "/events", headers(forged, RawHttp.DECLARED))));
        byte[] body = new byte[RawHttp.DECLARED];
        RawHttp.Race race = RawHttp.race(base, RawHttp.head("POST", "/events", headers(forged, body.length)), body);
        assertRefused(race.answer());
        assertNotNull(race.writeFailure(), "the whole body was accepted");
        assertTrue(race.bodyBytesWritten() < body.length, Long.toString(race.bodyBytesWritten()));
        // A key is no credential in bearer mode, and is refused the same way.
        assertRefused(RawHttp.headOnly(base, RawHttp.head("POST", "/events?code=test-key-primary",
                Map.of("Content-Type", "application/cloudevents+json", "Content-Length", "8388608"))));
    }

    @Test
    void aValidTokensChunkedBodyArrivesWhole() throws Exception {
        byte[] event = BearerIngressTest.event().getBytes(StandardCharsets.UTF_8);
        HttpRequest request = HttpRequest.newBuilder(base.resolve("/events"))
                .header("Content-Type", "application/cloudevents+json").header("Authorization", "Bearer " + identity.sign(v2Claims()))
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(event))).build();
        HttpResponse<String> response = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
                .send(request, HttpResponse.BodyHandlers.ofString());
        assertEquals(202, response.statusCode(), response.body());
        assertTrue(response.body().contains("\"accepted\":[{"), response.body());
    }
}
