package io.sandstream.telemetry;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Predicate;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
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
 * application.properties), traces, metrics and logs leave the process through the Azure Monitor
 * exporter: a local server stands in for the ingestion endpoint and must receive the receive span
 * of one execution, a {@code sandstream.*} Micrometer meter and a log record, while Prometheus
 * still serves {@code /q/metrics} and Quarkus' OTLP exporter, with no endpoint configured, never
 * tries {@code localhost:4317}. The in-memory span exporter of the other telemetry tests is left
 * out here: with it, Quarkus would skip its OTLP exporter anyway.
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
                    "quarkus.otel.blrp.schedule.delay", "50ms",
                    "quarkus.otel.metric.export.interval", "500ms",
                    "quarkus.arc.exclude-types", TestSpanExporter.class.getName(),
                    "sandstream.data-dir", "target/test-data-azuremonitor-" + port());
        }
    }

    record Received(String path, String body) {
    }

    static final List<Received> received = new CopyOnWriteArrayList<>();
    static HttpServer ingestion;

    /** Every log record of the run, to find the OTLP exporter's complaints in. */
    static final List<LogRecord> logged = new CopyOnWriteArrayList<>();
    static final Handler logCapture = new Handler() {
        @Override
        public void publish(LogRecord record) {
            logged.add(record);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeAll
    static void startIngestion() throws IOException {
        Logger.getLogger("").addHandler(logCapture);
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
        Logger.getLogger("").removeHandler(logCapture);
        ingestion.stop(0);
    }

    @Test
    void tracesMetricsAndLogsReachTheIngestionEndpoint() throws InterruptedException {
        String executionId = given().header("Authorization", PipelineTest.READER).contentType("application/json")
                .body("{\"code\":\"print(6 * 7)\",\"subject\":\"azure-monitor/export\"}")
                .post("/executions").then().statusCode(202).extract().path("executionId");
        String marker = "azure-monitor-log-" + executionId;
        org.jboss.logging.Logger.getLogger(AzureMonitorExportTest.class).info(marker);

        Received track = awaitTrack("the receive span of " + executionId,
                body -> body.contains("sandstream.receive") && body.contains(executionId));
        assertTrue(track.body().contains("\"iKey\":\"" + IKEY + "\""), track.body());
        // A Micrometer meter of the service's own (made before the bridge joined), as Azure Monitor metric data.
        awaitTrack("a sandstream metric", body -> body.contains("\"baseType\":\"MetricData\"")
                && body.contains("\"name\":\"sandstream.events.received\""));
        awaitTrack("the log record " + marker, body -> body.contains("\"baseType\":\"MessageData\"") && body.contains(marker));

        // Prometheus still has the same meter.
        assertTrue(given().get("/q/metrics").then().statusCode(200).extract().asString().contains("sandstream_events_received_total"));
        // Spans were exported in many batches by now: none went to an OTLP endpoint nobody configured.
        List<String> otlp = logged.stream().map(r -> r.getLoggerName() + ": " + r.getMessage())
                .filter(m -> m.contains("4317") || m.contains("VertxGrpcSender") || m.contains("VertxHttpSender")).toList();
        assertEquals(List.of(), otlp, "no OTLP export was tried");
    }

    private static Received awaitTrack(String what, Predicate<String> body) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            Optional<Received> found = received.stream().filter(r -> r.path().equals("/v2.1/track"))
                    .filter(r -> body.test(r.body())).findFirst();
            if (found.isPresent()) {
                return found.get();
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no /v2.1/track request carried " + what + "; received: "
                + received.stream().map(Received::path).toList());
    }
}
