package io.sandstream.telemetry;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.zip.GZIPInputStream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import com.sun.net.httpserver.HttpServer;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.sandstream.results.PipelineTest;

/**
 * With an Application Insights connection string and nothing else (the SDK switch is left to
 * application.properties), spans leave the process through the Azure Monitor exporter: a local
 * server stands in for the ingestion endpoint and must receive the receive span of one execution.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(AzureMonitorExportTest.ConnectionString.class)
class AzureMonitorExportTest {

    static final String IKEY = "00000000-0000-0000-0000-000000000000";

    /** Shared through a system property, which the test's and the application's class loaders both see. */
    static int port() {
        return Integer.parseInt(System.getProperties().computeIfAbsent("azuremonitortest.port", k -> {
            try (ServerSocket socket = new ServerSocket(0)) {
                return Integer.toString(socket.getLocalPort());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }).toString());
    }

    public static class ConnectionString implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            String endpoint = "http://127.0.0.1:" + port() + "/";
            return Map.of(
                    // What APPLICATIONINSIGHTS_CONNECTION_STRING gives in Azure; live metrics stay local too.
                    "applicationinsights.connection-string",
                    "InstrumentationKey=" + IKEY + ";IngestionEndpoint=" + endpoint + ";LiveEndpoint=" + endpoint,
                    "quarkus.otel.bsp.schedule.delay", "50ms",
                    "sandstream.data-dir", "target/test-data-azuremonitor-" + port());
        }
    }

    record Received(String path, String body) {
    }

    static final List<Received> received = new CopyOnWriteArrayList<>();
    static HttpServer ingestion;

    @BeforeAll
    static void startIngestion() throws IOException {
        ingestion = HttpServer.create(new InetSocketAddress("127.0.0.1", port()), 0);
        ingestion.createContext("/", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            if ("gzip".equalsIgnoreCase(exchange.getRequestHeaders().getFirst("Content-Encoding"))) {
                try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(body))) {
                    body = in.readAllBytes();
                }
            }
            received.add(new Received(exchange.getRequestURI().getPath(), new String(body, StandardCharsets.UTF_8)));
            byte[] answer = "{\"itemsReceived\":1,\"itemsAccepted\":1,\"errors\":[]}".getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, answer.length);
            exchange.getResponseBody().write(answer);
            exchange.close();
        });
        ingestion.start();
    }

    @AfterAll
    static void stopIngestion() {
        ingestion.stop(0);
    }

    @Test
    void spansReachTheIngestionEndpoint() throws InterruptedException {
        String executionId = given().header("Authorization", PipelineTest.READER).contentType("application/json")
                .body("{\"code\":\"print(6 * 7)\",\"subject\":\"azure-monitor/export\"}")
                .post("/executions").then().statusCode(202).extract().path("executionId");

        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        Received track = null;
        while (track == null && System.nanoTime() < deadline) {
            track = received.stream().filter(r -> r.path().equals("/v2.1/track"))
                    .filter(r -> r.body().contains("sandstream.receive") && r.body().contains(executionId))
                    .findFirst().orElse(null);
            Thread.sleep(100);
        }
        assertTrue(track != null, "no /v2.1/track request carried the receive span of " + executionId
                + "; received: " + received.stream().map(Received::path).toList());
        assertTrue(track.body().contains("\"iKey\":\"" + IKEY + "\""), track.body());
    }
}
