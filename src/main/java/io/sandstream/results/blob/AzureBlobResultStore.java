package io.sandstream.results.blob;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import org.jboss.logging.Logger;

import com.azure.core.util.BinaryData;
import com.azure.identity.DefaultAzureCredentialBuilder;
import com.azure.storage.blob.BlobAsyncClient;
import com.azure.storage.blob.BlobContainerAsyncClient;
import com.azure.storage.blob.BlobServiceAsyncClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.BlobErrorCode;
import com.azure.storage.blob.models.BlobHttpHeaders;
import com.azure.storage.blob.models.BlobRequestConditions;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.options.BlobParallelUploadOptions;
import com.azure.storage.common.policy.RequestRetryOptions;
import com.azure.storage.common.policy.RetryPolicyType;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.config.SandstreamConfig;
import io.smallrye.mutiny.Uni;
import reactor.core.publisher.Mono;
import io.sandstream.model.ResultDocument;
import io.sandstream.results.ResultStore;
import io.sandstream.results.StoredResult;
import io.sandstream.results.sqlite.SqliteResultStore;

/**
 * Results on Azure Blob Storage, laid out as the original Azure design had them: the document as
 * {@code {executionId}.json} in the results container, the full output as
 * {@code {executionId}/stdout.txt} and {@code stderr.txt} in the logs container.
 *
 * <p>Blob storage has no order, and the results stream needs one ({@code after}, SSE ids,
 * {@code Last-Event-ID}). So an SQLite index (the embedded store's table in {@code results.db})
 * numbers the results. It keeps the whole document too: replay pages of 500 and the polling of
 * {@code GET /executions/{id}} are then local reads instead of one blob request per result, and
 * the index costs the same disk as a result in the embedded store. The blobs are the durable copy
 * other consumers read; the index is this instance's view of them.
 *
 * <p>Write order per result: the result blob (create-only), then the log blobs of whichever result
 * won, then the index row. A crash in between leaves a blob without a row, never a row without a
 * blob; the journal keeps the execution unfinished, its replay finds the blob already there, and
 * the earlier result is the one indexed.
 *
 * <p>Only the SDK's async client is used: its requests run on its own Netty threads, never on the
 * Vert.x event loop, and what follows them here is cheap (JSON parsing, queueing the index write).
 */
public class AzureBlobResultStore implements ResultStore, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(AzureBlobResultStore.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Readiness asks the service again when it has heard nothing from it for this long. */
    private static final Duration PROBE_AFTER = Duration.ofSeconds(5);
    private static final String TEXT = "text/plain; charset=utf-8";

    private final BlobContainerAsyncClient results;
    private final BlobContainerAsyncClient logs;
    private final SqliteResultStore index;
    private final Duration timeout;
    /** Set once both containers are known to exist; cleared when the service says one is gone. */
    private volatile boolean containersReady;
    private final AtomicReference<Contact> lastContact = new AtomicReference<>(new Contact(Instant.EPOCH, null));

    /** What the last request to the service showed: reached ({@code failure == null}) or not. */
    private record Contact(Instant at, Throwable failure) {
    }

    public AzureBlobResultStore(BlobServiceAsyncClient service, SandstreamConfig.AzureBlob config, SqliteResultStore index) {
        this.results = service.getBlobContainerAsyncClient(config.resultsContainer());
        this.logs = service.getBlobContainerAsyncClient(config.logsContainer());
        this.index = index;
        this.timeout = config.requestTimeout();
    }

    /**
     * The service client from the configuration: a connection string when given, else the account
     * endpoint with {@code DefaultAzureCredential}. Neither is a configuration error, found at start.
     */
    public static BlobServiceAsyncClient client(SandstreamConfig.AzureBlob config) {
        return client(config, config.connectionString().map(StorageConnection::parse).orElse(null));
    }

    /** As {@link #client(SandstreamConfig.AzureBlob)}, with the connection (from Key Vault or config) given. */
    public static BlobServiceAsyncClient client(SandstreamConfig.AzureBlob config, StorageConnection connection) {
        // Few, short SDK retries: the dispatcher retries a failed put forever with its own backoff,
        // and readiness should see an outage within one request timeout.
        RequestRetryOptions retries = new RequestRetryOptions(RetryPolicyType.EXPONENTIAL, 2, config.requestTimeout(),
                Duration.ofMillis(200), Duration.ofSeconds(1), null);
        BlobServiceClientBuilder builder = new BlobServiceClientBuilder().retryOptions(retries);
        if (connection != null) {
            connection.applyTo(builder);
        } else if (config.endpoint().isPresent()) {
            builder.endpoint(config.endpoint().get()).credential(new DefaultAzureCredentialBuilder().build());
        } else {
            throw new IllegalStateException("sandstream.results.store=azure-blob needs "
                    + "sandstream.results.azure.connection-string or sandstream.results.azure.endpoint");
        }
        return builder.buildAsyncClient();
    }

    /**
     * Creates the containers if missing. An unreachable service does not stop the start: the first
     * put creates them (and is retried until it can).
     */
    public void start() {
        ensureContainers().subscribe().with(
                ready -> LOG.infof("result containers %s and %s ready", results.getBlobContainerName(),
                        logs.getBlobContainerName()),
                failure -> LOG.warnf("result containers not created yet (%s); the first put will try again",
                        failure.getMessage()));
    }

    @Override
    public void close() {
        index.close();
    }

    // ---- put: containers, result blob, log blobs, index ---------------------------------------------

    @Override
    public Uni<StoredResult> put(ResultDocument document) {
        // Deferred so that every retry of the caller runs every step again.
        return Uni.createFrom().deferred(() -> ensureContainers()
                .flatMap(ready -> writeResultOnce(document))
                .call(this::writeLogs)
                .flatMap(index::put));
    }

    private Uni<Void> ensureContainers() {
        if (containersReady) {
            return Uni.createFrom().voidItem();
        }
        return Uni.combine().all().unis(request(results::createIfNotExists), request(logs::createIfNotExists))
                .discardItems()
                .invoke(() -> containersReady = true);
    }

    /**
     * Creates {@code {executionId}.json} only if it does not exist (If-None-Match: *). When it does,
     * an earlier attempt stored a result: that one wins and is returned.
     */
    private Uni<ResultDocument> writeResultOnce(ResultDocument document) {
        BlobAsyncClient blob = results.getBlobAsyncClient(resultBlobName(document.executionId()));
        BlobParallelUploadOptions upload = new BlobParallelUploadOptions(BinaryData.fromBytes(toJson(document)))
                .setHeaders(new BlobHttpHeaders().setContentType("application/json"))
                .setRequestConditions(new BlobRequestConditions().setIfNoneMatch("*"));
        return request(() -> blob.uploadWithResponse(upload))
                .replaceWith(document)
                .onFailure(AzureBlobResultStore::alreadyExists).recoverWithUni(exists -> {
                    LOG.debugf("result of %s already stored; keeping the earlier one", document.executionId());
                    return request(blob::downloadContent).map(AzureBlobResultStore::parse);
                });
    }

    /**
     * The output of the result that won. Overwriting is allowed: only a winner's output is ever
     * written, so a second write (a replay after a crash) writes the same bytes.
     */
    private Uni<Void> writeLogs(ResultDocument winner) {
        String id = winner.executionId();
        return Uni.combine().all()
                .unis(uploadText(logs.getBlobAsyncClient(id + "/stdout.txt"), winner.stdout()),
                        uploadText(logs.getBlobAsyncClient(id + "/stderr.txt"), winner.stderr()))
                .discardItems();
    }

    private Uni<Void> uploadText(BlobAsyncClient blob, String text) {
        byte[] bytes = (text == null ? "" : text).getBytes(StandardCharsets.UTF_8);
        BlobParallelUploadOptions upload = new BlobParallelUploadOptions(BinaryData.fromBytes(bytes))
                .setHeaders(new BlobHttpHeaders().setContentType(TEXT));
        return request(() -> blob.uploadWithResponse(upload)).replaceWithVoid();
    }

    // ---- reads: from the index --------------------------------------------------------------------

    /** From the index: a result is indexed only after its blobs exist, so nothing is answered early. */
    @Override
    public Uni<Optional<StoredResult>> get(String executionId) {
        return index.get(executionId);
    }

    @Override
    public Uni<List<StoredResult>> after(long sequence, int limit) {
        return index.after(sequence, limit);
    }

    @Override
    public Uni<Long> latest() {
        return index.latest();
    }

    // ---- readiness ----------------------------------------------------------------------------------

    /**
     * Up while the last request reached the service. When nothing was heard for a while (no
     * results lately), one cheap request asks again, so an outage shows before the next put.
     */
    @Override
    public Uni<Health> health() {
        Contact contact = lastContact.get();
        Uni<Contact> current = contact.at().isAfter(Instant.now().minus(PROBE_AFTER)) ? Uni.createFrom().item(contact)
                : request(results::exists)
                        .invoke(exists -> containersReady &= exists)
                        .map(exists -> lastContact.get())
                        .onFailure().recoverWithItem(failure -> lastContact.get());
        return current.map(c -> {
            Map<String, Object> data = new LinkedHashMap<>();
            data.put("store", "azure-blob");
            data.put("container", results.getBlobContainerName());
            data.put("lastContact", c.at().toString());
            if (c.failure() != null) {
                data.put("lastFailure", String.valueOf(c.failure().getMessage()));
            }
            return new Health(c.failure() == null, data);
        });
    }

    // ---- plumbing -----------------------------------------------------------------------------------

    /**
     * One SDK request as a Uni: subscribed anew on every subscription (so retries send it again),
     * bounded by the request timeout, and noted for readiness.
     */
    private <T> Uni<T> request(Supplier<Mono<T>> call) {
        return Uni.createFrom().completionStage(() -> call.get().toFuture())
                .ifNoItem().after(timeout).failWith(() -> new TimeoutException("no answer from blob storage in " + timeout))
                .onItem().invoke(ok -> lastContact.set(new Contact(Instant.now(), null)))
                .onFailure().invoke(this::noteFailure);
    }

    private void noteFailure(Throwable failure) {
        if (failure instanceof BlobStorageException e) {
            if (e.getErrorCode() == BlobErrorCode.CONTAINER_NOT_FOUND) {
                containersReady = false; // deleted behind our back: the next attempt creates it again
            }
            if (alreadyExists(e)) {
                // An answer, and the expected one for a replay: the service is fine.
                lastContact.set(new Contact(Instant.now(), null));
                return;
            }
        }
        lastContact.set(new Contact(Instant.now(), failure));
    }

    /** The create-only condition failed: 409 BlobAlreadyExists (or 412 from some emulators and proxies). */
    static boolean alreadyExists(Throwable failure) {
        return failure instanceof BlobStorageException e
                && (e.getStatusCode() == 409 || e.getStatusCode() == 412)
                && (e.getErrorCode() == BlobErrorCode.BLOB_ALREADY_EXISTS || e.getErrorCode() == BlobErrorCode.CONDITION_NOT_MET);
    }

    static String resultBlobName(String executionId) {
        return executionId + ".json";
    }

    private static byte[] toJson(ResultDocument document) {
        try {
            return JSON.writeValueAsBytes(document);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ResultDocument parse(BinaryData content) {
        try {
            return JSON.readValue(content.toBytes(), ResultDocument.class);
        } catch (IOException e) {
            throw new UncheckedIOException("the stored result blob is not a result document", e);
        }
    }
}
