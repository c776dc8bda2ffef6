package io.sandstream.results.blob;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import com.azure.storage.blob.BlobClient;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;

import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.TestConfigs;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.model.ResultDocument;
import io.sandstream.results.Azurite;
import io.sandstream.results.StoredResult;
import io.sandstream.results.sqlite.SqliteResultStore;

/** The blob store on its own against a real Azurite: layout, idempotency, the crash window, a late service. */
class AzureBlobResultStoreTest {

    static final Duration WAIT = Duration.ofSeconds(30);
    static Azurite azurite;
    static BlobServiceClient blobs;
    private final java.util.List<AzureBlobResultStore> opened = new java.util.ArrayList<>();

    @BeforeAll
    static void startAzurite() {
        azurite = Azurite.startFresh();
        blobs = new BlobServiceClientBuilder().connectionString(azurite.connectionString()).buildClient();
    }

    @AfterAll
    static void stopAzurite() {
        azurite.stop();
    }

    @AfterEach
    void closeStores() {
        opened.forEach(AzureBlobResultStore::close);
    }

    /** A store as the producer builds it, with its index in a data directory of its own. */
    AzureBlobResultStore store(Azurite service) throws Exception {
        Path dataDir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "blob-index-");
        SandstreamConfig config = TestConfigs.sandstream(Map.of("sandstream.data-dir", dataDir.toString(),
                "sandstream.results.store", "azure-blob",
                "sandstream.results.azure.connection-string", service.connectionString(),
                "sandstream.results.azure.request-timeout", "3s"));
        SqliteResultStore index = new SqliteResultStore(new DataDirectory(config));
        index.open();
        AzureBlobResultStore store = new AzureBlobResultStore(AzureBlobResultStore.client(config.results().azure()),
                config.results().azure(), index);
        store.start();
        opened.add(store);
        return store;
    }

    static ResultDocument document(String executionId, String stdout, int result) {
        return ResultDocument.builder().executionId(executionId)
                .event("event-1", "/tests/blob", "blob/unit", "io.sandstream.code.execute")
                .language(Language.PYTHON).priority(Priority.NORMAL).backend("local").status(ExecutionStatus.Succeeded)
                .output(stdout, "warn: é\n").result(IntNode.valueOf(result))
                .timings(new ResultDocument.Timings("2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z",
                        "2024-01-01T00:00:02Z", 1000L, 1000L))
                .attempt(1).build();
    }

    static BlobClient resultBlob(String executionId) {
        return blobs.getBlobContainerClient("execution-results").getBlobClient(executionId + ".json");
    }

    static String log(String executionId, String stream) {
        return blobs.getBlobContainerClient("execution-logs").getBlobClient(executionId + "/" + stream + ".txt")
                .downloadContent().toString();
    }

    static ResultDocument blobDocument(String executionId) throws Exception {
        return new ObjectMapper().readValue(resultBlob(executionId).downloadContent().toBytes(), ResultDocument.class);
    }

    @Test
    void aResultBecomesABlobItsOutputTwoMoreAndAnIndexRow() throws Exception {
        AzureBlobResultStore store = store(azurite);
        String id = UUID.randomUUID().toString();
        ResultDocument doc = document(id, "hello\n", 42);

        StoredResult stored = store.put(doc).await().atMost(WAIT);

        assertEquals(doc, stored.document());
        assertEquals(doc, blobDocument(id));
        assertEquals("application/json", resultBlob(id).getProperties().getContentType());
        assertEquals("hello\n", log(id, "stdout"));
        assertEquals("warn: é\n", new String(blobs.getBlobContainerClient("execution-logs")
                .getBlobClient(id + "/stderr.txt").downloadContent().toBytes(), StandardCharsets.UTF_8));
        assertEquals(stored, store.get(id).await().atMost(WAIT).orElseThrow());
        assertEquals(stored, store.after(stored.sequence() - 1, 10).await().atMost(WAIT).get(0));
        assertTrue(store.health().await().atMost(WAIT).up());
    }

    @Test
    void largeOutputsBecomeBlobsTheDocumentLinks() throws Exception {
        AzureBlobResultStore store = store(azurite);
        String id = UUID.randomUUID().toString();
        byte[] png = new byte[100_000];
        new java.util.Random(7).nextBytes(png);
        png[0] = (byte) 0x89;
        String base64 = java.util.Base64.getEncoder().encodeToString(png);
        var image = io.sandstream.model.Output.of("image/png", com.fasterxml.jackson.databind.node.TextNode.valueOf(base64));
        var small = io.sandstream.model.Output.of("text/plain", com.fasterxml.jackson.databind.node.TextNode.valueOf("<Figure>"));
        ResultDocument doc = document(id, "figure\n", 1).withOutputs(java.util.List.of(image, small));

        StoredResult stored = store.put(doc).await().atMost(WAIT);

        assertEquals(doc, stored.document(), "readers see the data inline");
        assertEquals(doc, store.get(id).await().atMost(WAIT).orElseThrow().document());
        ResultDocument inBlob = blobDocument(id);
        assertEquals(small, inBlob.outputs().get(1), "a small output stays inline");
        String href = inBlob.outputs().get(0).href();
        assertTrue(inBlob.outputs().get(0).data() == null && href != null, inBlob.outputs().toString());
        String prefix = blobs.getBlobContainerClient("execution-results").getBlobContainerUrl() + "/" + id + "/outputs/";
        assertTrue(href.startsWith(prefix) && href.endsWith(".png"), href);
        BlobClient linked = blobs.getBlobContainerClient("execution-results").getBlobClient(href.substring(
                href.indexOf("/execution-results/") + "/execution-results/".length()));
        assertEquals("image/png", linked.getProperties().getContentType());
        org.junit.jupiter.api.Assertions.assertArrayEquals(png, linked.downloadContent().toBytes(), "the image's bytes");

        // A replay (a crash before the index row) keeps the stored document and reads its outputs back.
        AzureBlobResultStore other = store(azurite);
        ResultDocument replay = document(id, "another attempt\n", 2);
        assertEquals(doc, other.put(replay).await().atMost(WAIT).document());
    }

    @Test
    void theEarlierResultWins() throws Exception {
        AzureBlobResultStore store = store(azurite);
        String id = UUID.randomUUID().toString();
        StoredResult first = store.put(document(id, "first\n", 1)).await().atMost(WAIT);

        StoredResult second = store.put(document(id, "second\n", 2)).await().atMost(WAIT);

        assertEquals(first, second);
        assertEquals("first\n", blobDocument(id).stdout());
        assertEquals("first\n", log(id, "stdout"));
        assertEquals(1, store.after(0, 1000).await().atMost(WAIT).stream()
                .filter(r -> r.document().executionId().equals(id)).count());
    }

    /**
     * A crash after the blob was written and before the index row: the replay (here: another
     * instance with an empty index) finds the blob, keeps it, and indexes that one.
     */
    @Test
    void aBlobWithoutItsIndexRowIsAdoptedNotOverwritten() throws Exception {
        String id = UUID.randomUUID().toString();
        store(azurite).put(document(id, "before the crash\n", 1)).await().atMost(WAIT);
        AzureBlobResultStore afterRestart = store(azurite);

        StoredResult replayed = afterRestart.put(document(id, "the replay\n", 2)).await().atMost(WAIT);

        assertEquals("before the crash\n", replayed.document().stdout());
        assertEquals(1, replayed.document().result().intValue());
        assertEquals("before the crash\n", afterRestart.get(id).await().atMost(WAIT).orElseThrow().document().stdout());
        assertEquals("before the crash\n", blobDocument(id).stdout());
        assertEquals("before the crash\n", log(id, "stdout"));
    }

    /** Down at start: the store still starts, reports not ready, fails puts; once up, it creates the containers. */
    @Test
    void aServiceThatIsDownAtStartOnlyDelaysResults() throws Exception {
        try (Azurite late = Azurite.startFresh()) {
            late.stop();
            AzureBlobResultStore store = store(late);
            String id = UUID.randomUUID().toString();

            assertFalse(store.health().await().atMost(WAIT).up());
            assertThrows(RuntimeException.class, () -> store.put(document(id, "x\n", 1)).await().atMost(WAIT));
            assertTrue(store.get(id).await().atMost(WAIT).isEmpty(), "nothing indexed without its blob");

            late.restart();
            StoredResult stored = store.put(document(id, "x\n", 1)).await().atMost(WAIT);

            assertEquals(id, stored.document().executionId());
            assertTrue(store.health().await().atMost(WAIT).up());
            BlobServiceClient lateBlobs = new BlobServiceClientBuilder().connectionString(late.connectionString())
                    .buildClient();
            assertTrue(lateBlobs.getBlobContainerClient("execution-results").getBlobClient(id + ".json").exists());
            assertTrue(lateBlobs.getBlobContainerClient("execution-logs").getBlobClient(id + "/stdout.txt").exists());
        }
    }
}
