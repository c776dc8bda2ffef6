package io.sandstream.edge;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import jakarta.inject.Inject;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;

/**
 * Slow clients: a request whose headers never finish is answered 408 and closed after the header
 * timeout, even while it keeps trickling bytes; one address cannot hold more connections than its cap.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(SlowlorisTest.ShortTimeouts.class)
class SlowlorisTest {

    static final int CAP = 8;

    public static class ShortTimeouts implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("sandstream.security.connections.header-timeout", "1s",
                    "sandstream.security.connections.keep-alive-timeout", "1s",
                    "sandstream.security.connections.max-per-address", Integer.toString(CAP));
        }
    }

    @TestHTTPResource("/")
    URL base;

    @Inject
    HttpEdge edge;

    @BeforeEach
    void guardedAndQuiet() throws Exception {
        RawSocket.awaitInstalled(edge);
        // Connections of an earlier test (pooled, lingering) leave within the short timeouts.
        InetAddress local = InetAddress.getByName(base.getHost());
        for (int i = 0; i < 600 && edge.connections(local) > 0; i++) {
            Thread.sleep(50);
        }
        assertEquals(0, edge.connections(local), "connections left over from another test");
    }

    @Test
    void halfSentRequestsAreAnsweredAndClosedAfterTheHeaderTimeout() throws Exception {
        List<Socket> sockets = new ArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        try {
            for (int i = 0; i < 5; i++) {
                Socket socket = RawSocket.connect(base);
                sockets.add(socket);
                socket.getOutputStream().write("POST /events HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
            }
            // One more keeps sending a byte at a time, as slowloris does: it is not idle, only never done.
            Socket trickler = RawSocket.connect(base);
            sockets.add(trickler);
            OutputStream out = trickler.getOutputStream();
            out.write("GET /q/health/live HTTP/1.1\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
            Thread dripping = new Thread(() -> {
                try {
                    while (!stop.get()) {
                        out.write('a');
                        out.flush();
                        Thread.sleep(100);
                    }
                } catch (IOException | InterruptedException e) {
                    // closed by the server: what the test waits for
                }
            });
            dripping.start();
            for (Socket socket : sockets) {
                RawSocket.Response response = RawSocket.read(socket.getInputStream()); // returns at end of stream only
                assertEquals(408, response.status(), new String(response.body(), StandardCharsets.UTF_8));
                assertEquals("application/problem+json", response.header("Content-Type"));
                assertEquals(408, response.json().path("status").asInt());
            }
            stop.set(true);
            dripping.join();
        } finally {
            stop.set(true);
            for (Socket socket : sockets) {
                socket.close();
            }
        }
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("sandstream_http_timeouts_total{kind=\"header\"}"))
                .body(containsString("sandstream_http_limit{limit=\"header-timeout-seconds\"} 1.0"));
    }

    @Test
    void anAddressBeyondItsCapIsRefused() throws Exception {
        List<Socket> streams = new ArrayList<>();
        try {
            // Long-lived requests (SSE) hold their connections past every timeout.
            for (int i = 0; i < CAP; i++) {
                Socket socket = RawSocket.connect(base);
                streams.add(socket);
                socket.getOutputStream().write(("GET /executions/stream HTTP/1.1\r\nHost: x\r\n"
                        + "Authorization: Bearer test-reader\r\nAccept: text/event-stream\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                String head = RawSocket.head(socket.getInputStream());
                assertTrue(head.startsWith("HTTP/1.1 200"), head);
            }
            try (Socket refused = RawSocket.connect(base)) {
                RawSocket.Response response = RawSocket.read(refused.getInputStream());
                assertEquals(429, response.status());
                assertEquals("application/problem+json", response.header("Content-Type"));
                assertEquals("https://sandstream.io/problems/too-many-connections", response.json().path("type").asText());
            }
            streams.remove(0).close();
            // Once the server has seen that close, the address has room again.
            int status = 429;
            for (int i = 0; i < 600 && status == 429; i++) {
                status = RawSocket.exchange(base, "GET /q/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII)).status();
                if (status == 429) {
                    Thread.sleep(50);
                }
            }
            assertEquals(200, status);
        } finally {
            for (Socket socket : streams) {
                socket.close();
            }
        }
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("sandstream_http_refused_total{reason=\"per-address-limit\",status=\"429\"}"));
    }
}
