package io.sandstream.results.blob;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.sandstream.model.ResultDocument;
import io.sandstream.results.Azurite;
import io.sandstream.results.AzuriteResource.InjectAzurite;
import io.sandstream.results.AzuriteResource;
import io.sandstream.results.PipelineTest;
import io.sandstream.results.ResultStore;
import io.sandstream.results.StoredResult;

/**
 * The service with {@code sandstream.results.store=azure-blob} against a real Azurite, through
 * {@code POST /events}, the journal, real sandboxes and {@code GET /executions/{id}}; then Azurite
 * goes away and comes back while events keep arriving.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(AzureBlobPipelineTest.BlobStore.class)
class AzureBlobPipelineTest {

    public static class BlobStore implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("sandstream.results.store", "azure-blob",
                    "sandstream.data-dir", "target/test-data-blob-" + UUID.randomUUID());
        }

        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(AzuriteResource.class));
        }
    }

    static final ObjectMapper JSON = new ObjectMapper();
    static final Duration PATIENCE = Duration.ofSeconds(60);

    @InjectAzurite
    Azurite azurite;

    @Inject
    ResultStore store;

    BlobContainerContainers blobs() {
        var service = new BlobServiceClientBuilder().connectionString(azurite.connectionString()).buildClient();
        return new BlobContainerContainers(service.getBlobContainerClient("execution-results"),
                service.getBlobContainerClient("execution-logs"));
    }

    record BlobContainerContainers(BlobContainerClient results, BlobContainerClient logs) {
        JsonNode result(String executionId) throws Exception {
            return JSON.readTree(results.getBlobClient(executionId + ".json").downloadContent().toBytes());
        }

        String log(String executionId, String stream) {
            return logs.getBlobClient(executionId + "/" + stream + ".txt").downloadContent().toString();
        }
    }

    @Test
    void anEventEndsAsAResultAndAsBlobs() throws Exception {
        String id = PipelineTest.post("{\"code\":\"print('hello')\\n6 * 7\"}", "blob/pipeline");

        JsonPath doc = PipelineTest.awaitResult(id, PipelineTest.READER);

        assertEquals("Succeeded", doc.getString("status"), doc.prettify());
        JsonNode served = JSON.readTree(doc.prettify());
        BlobContainerContainers blobs = blobs();
        assertEquals(served, blobs.result(id), "the blob is the document GET serves");
        assertEquals("application/json",
                blobs.results().getBlobClient(id + ".json").getProperties().getContentType());
        assertEquals("hello\n", blobs.log(id, "stdout"));
        assertEquals("", blobs.log(id, "stderr"));
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        assertTrue(metric(metrics, "sandstream_results_put_seconds_count", "outcome=\"success\",store=\"azure-blob\"") >= 1,
                "puts are timed per store and outcome");
    }

    @Test
    void theSameExecutionStoredTwiceKeepsTheFirst() throws Exception {
        String id = UUID.randomUUID().toString();
        ResultDocument first = AzureBlobResultStoreTest.document(id, "first\n", 1);
        store.put(first).await().atMost(PATIENCE);

        StoredResult again = store.put(AzureBlobResultStoreTest.document(id, "second\n", 2)).await().atMost(PATIENCE);

        assertEquals(first, again.document());
        given().header("Authorization", PipelineTest.READER).get("/executions/" + id).then().statusCode(200)
                .body("stdout", org.hamcrest.Matchers.equalTo("first\n"));
        assertEquals("first\n", blobs().result(id).get("stdout").asText());
        assertEquals("first\n", blobs().log(id, "stdout"));
        assertEquals(1, occurrencesInIndex(id));
    }

    /**
     * Blob storage goes away: events are still accepted (the journal has them), nothing is stored,
     * readiness says so; it comes back on the same port and data: every event ends with exactly
     * one result, in the index and as blobs.
     */
    @Test
    void anOutageDelaysResultsAndLosesNone() throws Exception {
        await("the result store is ready", () -> resultsCheck().equals("UP"));
        double failuresBefore = putFailures();
        azurite.stop();
        List<String> ids = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                ids.add(PipelineTest.post("{\"code\":\"print(" + i + ")\"}", "blob/outage/" + i));
            }
            await("readiness reports the store down", () -> resultsCheck().equals("DOWN"));
            await("puts are failing and retried", () -> putFailures() >= failuresBefore + ids.size());
            for (String id : ids) {
                String status = given().header("Authorization", PipelineTest.READER).get("/executions/" + id).then()
                        .statusCode(200).extract().path("status");
                assertTrue(status.equals("Queued") || status.equals("Running"), id + " has no result yet: " + status);
            }
        } finally {
            azurite.restart();
        }

        BlobContainerContainers blobs = blobs();
        for (int i = 0; i < ids.size(); i++) {
            String id = ids.get(i);
            JsonPath doc = PipelineTest.awaitResult(id, PipelineTest.READER);
            assertEquals("Succeeded", doc.getString("status"), doc.prettify());
            assertEquals(i + "\n", doc.getString("stdout"));
            assertEquals(JSON.readTree(doc.prettify()), blobs.result(id));
            assertEquals(i + "\n", blobs.log(id, "stdout"));
            assertEquals(1, occurrencesInIndex(id), "exactly one result for " + id);
        }
        await("the result store is ready again", () -> resultsCheck().equals("UP"));
    }

    // ---- helpers --------------------------------------------------------------------------------

    long occurrencesInIndex(String executionId) {
        return store.after(0, 100_000).await().atMost(PATIENCE).stream()
                .filter(r -> r.document().executionId().equals(executionId)).count();
    }

    /** Status of the {@code results} readiness check (the endpoint answers 503 while anything is down). */
    static String resultsCheck() {
        JsonPath health = given().get("/q/health/ready").then().extract().jsonPath();
        return health.getString("checks.find { it.name == 'results' }.status");
    }

    static double putFailures() {
        return metric(given().get("/q/metrics").then().statusCode(200).extract().asString(),
                "sandstream_results_put_failures_total", "store=\"azure-blob\"");
    }

    static double metric(String prometheus, String name, String labels) {
        Matcher m = Pattern.compile("(?m)^" + name + "\\{" + Pattern.quote(labels) + "[^}]*\\} (\\S+)$").matcher(prometheus);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("timed out waiting until " + what);
    }
}
