package io.sandstream.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;

/**
 * Credentials before bodies: every endpoint that takes a body refuses a request without a valid
 * credential from its headers alone, without reading the body, and still serves a valid one
 * whatever its framing.
 */
@QuarkusTest
class CredentialGuardTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String LEGACY = "api-version=2024-02-02-preview&identifier=guard-1";
    static final String RESOURCE = "api-version=2025-02-02-preview&identifier=guard-1";
    static final String MULTIPART = "multipart/form-data; boundary=guard";

    /** One body-carrying endpoint, its content type, and the credential that opens it. */
    record Endpoint(String target, String contentType, String credentialHeader, String credential) {
        boolean pool() {
            return target.startsWith("/pools/");
        }

        boolean events() {
            return target.startsWith("/events");
        }
    }

    static final List<Endpoint> ENDPOINTS = List.of(
            new Endpoint("/events", "application/cloudevents+json", "aeg-sas-key", "test-key-primary"),
            new Endpoint("/executions", "application/json", "Authorization", "Bearer test-reader"),
            new Endpoint("/pools/python/code/execute?" + LEGACY, "application/json", "Authorization", "Bearer test-reader"),
            new Endpoint("/pools/python/python/execute?" + LEGACY, "application/json", "Authorization", "Bearer test-reader"),
            new Endpoint("/pools/python/files/upload?" + LEGACY, MULTIPART, "Authorization", "Bearer test-reader"),
            new Endpoint("/pools/python/executions?" + RESOURCE, "application/json", "Authorization", "Bearer test-reader"),
            new Endpoint("/pools/python/files?" + RESOURCE, MULTIPART, "Authorization", "Bearer test-reader"),
            new Endpoint("/mcp", "application/json", "Authorization", "Bearer test-reader"));

    @TestHTTPResource("/")
    URI base;

    static Map<String, String> headers(Endpoint endpoint, String credential, long contentLength) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Content-Type", endpoint.contentType());
        headers.put("Content-Length", Long.toString(contentLength));
        if (credential != null) {
            headers.put(endpoint.credentialHeader(), credential);
        }
        return headers;
    }

    /** The 401 each resource gives, with the body shape its clients parse. */
    static void assertRefused(Endpoint endpoint, RawHttp.Answer answer) throws Exception {
        String where = endpoint.target() + ": " + answer;
        assertEquals(401, answer.status(), where);
        assertEquals("close", answer.header("Connection"), where);
        assertTrue(answer.closed(), "the connection is closed after the answer: " + where);
        JsonNode body = JSON.readTree(answer.body());
        if (endpoint.pool()) {
            assertTrue(answer.header("Content-Type").startsWith("application/json"), where);
            assertEquals("Unauthorized", answer.header("x-ms-error-code"), where);
            assertEquals("Bearer", answer.header("WWW-Authenticate"), where);
            assertEquals("Unauthorized", body.at("/error/code").textValue(), where);
            assertEquals("Send a valid API key as Authorization: Bearer <key>.", body.at("/error/message").textValue(), where);
        } else {
            assertEquals("application/problem+json", answer.header("Content-Type"), where);
            assertEquals("https://sandstream.io/problems/unauthorized", body.path("type").textValue(), where);
            assertEquals("Unauthorized", body.path("title").textValue(), where);
            assertEquals(401, body.path("status").intValue(), where);
            assertEquals(endpoint.events() ? "Send a valid ingress key as ?code=<key> or the aeg-sas-key header."
                    : "Send a valid API key as Authorization: Bearer <key>.", body.path("detail").textValue(), where);
        }
    }

    @Test
    void aDeclaredBodyIsNotAwaitedWithoutAValidCredential() throws Exception {
        for (Endpoint endpoint : ENDPOINTS) {
            for (String credential : new String[] { null, endpoint.credential().replace("test-", "wrong-") }) {
                RawHttp.Answer answer = RawHttp.headOnly(base,
                        RawHttp.head("POST", endpoint.target(), headers(endpoint, credential, RawHttp.DECLARED)));
                assertRefused(endpoint, answer);
            }
        }
    }

    @Test
    void theBodyIsNotReadWhileTheRefusalIsSent() throws Exception {
        byte[] body = new byte[RawHttp.DECLARED];
        for (Endpoint endpoint : ENDPOINTS) {
            RawHttp.Race race = RawHttp.race(base,
                    RawHttp.head("POST", endpoint.target(), headers(endpoint, null, body.length)), body);
            assertRefused(endpoint, race.answer());
            // Had the service read the body before answering, the whole of it would have been written.
            assertNotNull(race.writeFailure(), endpoint.target() + ": the whole body was accepted");
            assertTrue(race.bodyBytesWritten() < body.length, endpoint.target() + ": " + race.bodyBytesWritten());
        }
    }

    @Test
    void pathVariantsTheResourcesMatchAreGuardedToo() throws Exception {
        Endpoint events = ENDPOINTS.get(0);
        for (String target : List.of("/events/", "/events;a=b", "//events", "/pools/python/files/upload/?" + LEGACY)) {
            Endpoint variant = new Endpoint(target, events.contentType(), events.credentialHeader(), events.credential());
            RawHttp.Answer answer = RawHttp.headOnly(base,
                    RawHttp.head("POST", target, headers(target.startsWith("/pools") ? ENDPOINTS.get(4) : variant, null,
                            RawHttp.DECLARED)));
            assertEquals(401, answer.status(), target + ": " + answer);
            assertTrue(answer.closed(), target);
        }
    }

    @Test
    void authenticationComesBeforeTheSizeLimit() throws Exception {
        Endpoint events = ENDPOINTS.get(0);
        assertRefused(events, RawHttp.headOnly(base, RawHttp.head("POST", "/events", headers(events, null, RawHttp.DECLARED))));
        RawHttp.Answer tooLarge = RawHttp.headOnly(base,
                RawHttp.head("POST", "/events", headers(events, events.credential(), RawHttp.DECLARED)));
        // Answered from the headers; the connection is kept (RequestSizeGuard's Connection: close does not
        // close it), so an authenticated sender that writes its whole body first still reads its 413.
        assertEquals(413, tooLarge.status(), tooLarge.toString());
    }

    @Test
    void validCredentialsStillWorkWithChunkedBodies() throws Exception {
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String id = "guard-" + UUID.randomUUID().toString().substring(0, 8);
        String event = """
                {"specversion":"1.0","id":"%s","source":"/tests/guard","type":"io.sandstream.code.execute","data":{"code":"1"}}"""
                .formatted(UUID.randomUUID());
        String multipart = "--guard\r\nContent-Disposition: form-data; name=\"file\"; filename=\"g.txt\"\r\n"
                + "Content-Type: text/plain\r\n\r\nguarded\r\n--guard--\r\n";
        record Call(Endpoint endpoint, String body, int status) {
        }
        String legacy = "api-version=2024-02-02-preview&identifier=" + id;
        String resource = "api-version=2025-02-02-preview&identifier=" + id;
        List<Call> calls = List.of(
                new Call(ENDPOINTS.get(0), event, 202),
                new Call(ENDPOINTS.get(1), "{\"code\":\"1\"}", 202),
                new Call(new Endpoint("/pools/python/files/upload?" + legacy, MULTIPART, "Authorization", "Bearer test-reader"),
                        multipart, 200),
                new Call(new Endpoint("/pools/python/code/execute?" + legacy, "application/json", "Authorization",
                        "Bearer test-reader"), "{\"properties\":{\"codeInputType\":\"inline\",\"executionType\":\"synchronous\","
                                + "\"code\":\"print(open('/mnt/data/g.txt').read())\"}}", 200),
                new Call(new Endpoint("/pools/python/files?" + resource, MULTIPART, "Authorization", "Bearer test-reader"),
                        multipart, 200),
                new Call(new Endpoint("/pools/python/executions?" + resource, "application/json", "Authorization",
                        "Bearer test-reader"), "{\"code\":\"1+1\",\"codeInputType\":\"Inline\",\"executionType\":\"Synchronous\"}",
                        200));
        for (Call call : calls) {
            byte[] bytes = call.body().getBytes(StandardCharsets.UTF_8);
            // An input stream of unknown length: the client sends it chunked, without Content-Length.
            HttpRequest request = HttpRequest.newBuilder(base.resolve(call.endpoint().target()))
                    .header("Content-Type", call.endpoint().contentType())
                    .header(call.endpoint().credentialHeader(), call.endpoint().credential())
                    .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(bytes))).build();
            HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
            assertEquals(call.status(), response.statusCode(), call.endpoint().target() + ": " + response.body());
            if (call.endpoint().target().contains("code/execute")) {
                assertTrue(response.body().contains("guarded"), response.body());
            }
        }
    }
}
