package io.sandstream.edge;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.stream.Stream;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;

import jakarta.inject.Inject;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import com.fasterxml.jackson.databind.JsonNode;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;

/**
 * Requests the HTTP codec refuses before any route sees them: each must still be answered with
 * problem JSON (API.md), and the connection closed.
 */
@QuarkusTest
class HttpEdgeTest {

    @TestHTTPResource("/")
    URL base;

    @Inject
    HttpEdge edge;

    @BeforeEach
    void guarded() throws InterruptedException {
        RawSocket.awaitInstalled(edge);
    }

    private RawSocket.Response send(String request) throws Exception {
        return RawSocket.exchange(base, request.getBytes(StandardCharsets.ISO_8859_1));
    }

    private static void assertProblem(RawSocket.Response response, int status) throws Exception {
        assertEquals(status, response.status(), () -> new String(response.body(), StandardCharsets.UTF_8));
        assertEquals("application/problem+json", response.header("Content-Type"));
        assertEquals("close", response.header("Connection"));
        JsonNode problem = response.json();
        assertEquals(status, problem.path("status").asInt());
        assertTrue(problem.path("type").asText().startsWith("https://sandstream.io/problems/"), problem::toString);
        assertTrue(!problem.path("title").asText().isEmpty() && !problem.path("detail").asText().isEmpty(), problem::toString);
    }

    @Test
    void aHeaderOverTheHeaderBlockLimitIs431() throws Exception {
        assertProblem(send("GET /q/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(20 * 1024) + "\r\n\r\n"), 431);
    }

    @Test
    void aHundredThousandHeadersAre431() throws Exception {
        assertProblem(send("GET /q/health/live HTTP/1.1\r\nHost: x\r\n" + "X-H: v\r\n".repeat(100_000) + "\r\n"), 431);
    }

    @Test
    void aRequestLineOverTheLimitIs414() throws Exception {
        assertProblem(send("GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: x\r\n\r\n"), 414);
    }

    static Stream<Arguments> malformedRequests() {
        return Stream.of(
                Arguments.of("a negative Content-Length", "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
                Arguments.of("two Content-Lengths",
                        "POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"),
                Arguments.of("a NUL in a header", "GET /q/health/live HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n"),
                Arguments.of("HTTP/0.9", "GET /q/health/live\r\n\r\n"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformedRequests")
    void aMalformedRequestIs400(String what, String request) throws Exception {
        assertProblem(send(request), 400);
    }

    @Test
    void aTlsHandshakeOnThePlainPortIs400() throws Exception {
        SSLEngine engine = SSLContext.getDefault().createSSLEngine(base.getHost(), base.getPort());
        engine.setUseClientMode(true);
        ByteBuffer hello = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
        engine.wrap(ByteBuffer.allocate(0), hello);
        hello.flip();
        byte[] bytes = Arrays.copyOf(hello.array(), hello.limit());
        assertEquals(0x16, bytes[0], "a TLS handshake record");
        assertProblem(RawSocket.exchange(base, bytes), 400);
    }

    /** The guard must not disturb ordinary keep-alive traffic. */
    @Test
    void validRequestsShareAConnection() throws Exception {
        try (Socket socket = RawSocket.connect(base)) {
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            for (int i = 0; i < 2; i++) {
                out.write("GET /q/health/live HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                String head = RawSocket.head(in);
                assertTrue(head.startsWith("HTTP/1.1 200"), head);
                int length = Integer.parseInt(head.replaceAll("(?s).*[Cc]ontent-[Ll]ength: *(\\d+).*", "$1"));
                assertEquals(length, in.readNBytes(length).length);
            }
        }
    }

    @Test
    void refusalsAreCounted() throws Exception {
        send("GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: x\r\n\r\n");
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("sandstream_http_refused_total{reason=\"invalid-request\",status=\"414\"}"))
                .body(containsString("sandstream_http_limit{limit=\"max-connections-per-address\"} 4096.0"))
                .body(containsString("sandstream_http_limit{limit=\"header-timeout-seconds\"} 10.0"));
    }
}
