package io.sandstream.results.blob;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
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
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;

import io.sandstream.config.SandstreamConfig;
import io.smallrye.mutiny.Uni;
import reactor.core.publisher.Mono;
import io.sandstream.model.Output;
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
    private final int outputBlobThreshold;
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
        this.outputBlobThreshold = config.outputBlobThreshold();
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
                .flatMap(ready -> writeOutputs(document))
                .flatMap(linked -> writeResultOnce(document, linked))
                .call(this::writeLogs)
                .flatMap(index::put));
    }

    /**
     * Outputs past the threshold as blobs of their own, before the document that links them (a
     * document never links a missing blob); the document to write, with those outputs as links.
     * Names carry a digest of the content: a replay's outputs never overwrite those an earlier,
     * winning document links.
     */
    private Uni<ResultDocument> writeOutputs(ResultDocument document) {
        List<Output> outputs = document.outputs();
        if (outputs.stream().noneMatch(o -> o.size() > outputBlobThreshold)) {
            return Uni.createFrom().item(document);
        }
        List<Output> linked = new ArrayList<>(outputs);
        List<Uni<Void>> uploads = new ArrayList<>();
        for (int i = 0; i < outputs.size(); i++) {
            Output output = outputs.get(i);
            if (output.size() <= outputBlobThreshold) {
                continue;
            }
            byte[] bytes = outputBytes(output);
            // Execution ids are UUIDs: the name needs no escaping, and the link keeps its slashes.
            String name = document.executionId() + "/outputs/" + i + "-" + digest(bytes) + extension(output.type());
            BlobAsyncClient blob = results.getBlobAsyncClient(name);
            BlobParallelUploadOptions upload = new BlobParallelUploadOptions(BinaryData.fromBytes(bytes))
                    .setHeaders(new BlobHttpHeaders().setContentType(contentType(output.type())));
            uploads.add(request(() -> blob.uploadWithResponse(upload)).replaceWithVoid());
            linked.set(i, new Output(output.type(), null, results.getBlobContainerUrl() + "/" + name));
        }
        return Uni.combine().all().unis(uploads).discardItems().replaceWith(document.withOutputs(linked));
    }

    /** Base64 images as their bytes (a PNG blob opens as a PNG); text as UTF-8; JSON values as JSON. */
    private static byte[] outputBytes(Output output) {
        JsonNode data = output.data();
        if (binary(output.type())) {
            return Base64.getDecoder().decode(data.textValue());
        }
        return (data.isTextual() ? data.textValue() : data.toString()).getBytes(StandardCharsets.UTF_8);
    }

    private static boolean binary(String type) {
        return type.startsWith("image/") && !type.equals("image/svg+xml");
    }

    private static Output restored(Output linked, BinaryData content) {
        byte[] bytes = content.toBytes();
        if (binary(linked.type())) {
            return Output.of(linked.type(), TextNode.valueOf(Base64.getEncoder().encodeToString(bytes)));
        }
        if (linked.type().equals("application/json")) {
            try {
                return Output.of(linked.type(), JSON.readTree(bytes));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return Output.of(linked.type(), TextNode.valueOf(new String(bytes, StandardCharsets.UTF_8)));
    }

    private static String contentType(String type) {
        return type.startsWith("text/") ? type + "; charset=utf-8" : type;
    }

    private static String extension(String type) {
        return switch (type) {
            case "image/png" -> ".png";
            case "image/jpeg" -> ".jpg";
            case "image/svg+xml" -> ".svg";
            case "text/html" -> ".html";
            case "text/markdown" -> ".md";
            case "application/json" -> ".json";
            default -> ".txt";
        };
    }

    private static String digest(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The linked outputs of a stored document read back, so that every reader sees the data inline. */
    private Uni<ResultDocument> resolveOutputs(ResultDocument stored) {
        String prefix = results.getBlobContainerUrl() + "/";
        List<Output> outputs = stored.outputs();
        if (outputs.stream().noneMatch(o -> o.href() != null && o.href().startsWith(prefix))) {
            return Uni.createFrom().item(stored);
        }
        List<Output> resolved = new ArrayList<>(outputs);
        List<Uni<Void>> downloads = new ArrayList<>();
        for (int i = 0; i < outputs.size(); i++) {
            Output output = outputs.get(i);
            if (output.href() == null || !output.href().startsWith(prefix)) {
                continue;
            }
            int at = i;
            String name = java.net.URLDecoder.decode(output.href().substring(prefix.length()), StandardCharsets.UTF_8);
            BlobAsyncClient blob = results.getBlobAsyncClient(name);
            downloads.add(request(blob::downloadContent).invoke(content -> resolved.set(at, restored(output, content)))
                    .replaceWithVoid());
        }
        return Uni.combine().all().unis(downloads).discardItems().replaceWith(() -> stored.withOutputs(resolved));
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
    private Uni<ResultDocument> writeResultOnce(ResultDocument document, ResultDocument linked) {
        BlobAsyncClient blob = results.getBlobAsyncClient(resultBlobName(document.executionId()));
        BlobParallelUploadOptions upload = new BlobParallelUploadOptions(BinaryData.fromBytes(toJson(linked)))
                .setHeaders(new BlobHttpHeaders().setContentType("application/json"))
                .setRequestConditions(new BlobRequestConditions().setIfNoneMatch("*"));
        return request(() -> blob.uploadWithResponse(upload))
                .replaceWith(document)
                .onFailure(AzureBlobResultStore::alreadyExists).recoverWithUni(exists -> {
                    LOG.debugf("result of %s already stored; keeping the earlier one", document.executionId());
                    return request(blob::downloadContent).map(AzureBlobResultStore::parse)
                            .flatMap(this::resolveOutputs);
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
