package io.sandstream.poolapi;

import java.net.URLConnection;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.UUID;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;

import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.SessionFile;
import io.sandstream.sessions.SessionFiles;
import io.sandstream.sessions.SessionInfo;

/** The resource-contract ({@code 2024-10-02-preview} and later) response bodies. */
public final class ResourceResponses {

    private ResourceResponses() {
    }

    /** {@code result} is absent while the execution runs. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({ "id", "identifier", "sessionId", "executionType", "status", "result" })
    public record Execution(String id, String identifier, String sessionId, String executionType, Status status,
            Output result) {
    }

    /** The pool API's own vocabulary for an execution, written by name; coarser than sandstream's statuses. */
    public enum Status {
        Running, Succeeded, Failed, Cancelled
    }

    @JsonPropertyOrder({ "stdout", "stderr", "executionResult", "executionTimeInMilliseconds" })
    public record Output(String stdout, String stderr, JsonNode executionResult, long executionTimeInMilliseconds) {
    }

    @JsonPropertyOrder({ "name", "type", "contentType", "sizeInBytes", "lastModifiedAt" })
    public record FileMetadata(String name, String type, String contentType, long sizeInBytes, String lastModifiedAt) {
    }

    /** {@code truncated} only when the session holds more files than one listing answers (sandstream's own field). */
    public record FileList(List<FileMetadata> value, @JsonInclude(JsonInclude.Include.NON_NULL) Boolean truncated) {
    }

    /**
     * A session as the {@code 2025-02-02-preview} and {@code 2025-10-02-preview} specs' {@code Session}
     * defines it (every field required). The {@code etag} stands for the sandbox behind the session
     * (the spec: "representing the underlying container ID"): the same while the session lives, new
     * when the identifier gets a new session. {@code tenant} is ours, only in the operator's listing
     * of every tenant's sessions.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({ "identifier", "createdAt", "lastAccessedAt", "expireAt", "etag", "tenant" })
    public record Session(String identifier, String createdAt, String lastAccessedAt, String expireAt, String etag,
            String tenant) {
    }

    /** The spec's {@code SessionsListResponse}: one page, and the link to the next while there is one. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonPropertyOrder({ "sessions", "nextLink" })
    public record SessionList(List<Session> sessions, String nextLink) {
    }

    static String executionType(boolean asynchronous) {
        return asynchronous ? "Asynchronous" : "Synchronous";
    }

    public static Execution running(String id, String identifier) {
        return new Execution(id, identifier, identifier, executionType(true), Status.Running, null);
    }

    /**
     * Succeeded stays Succeeded, Cancelled stays Cancelled; raising code, a timeout or a limit is
     * Failed with the reason in stderr (the runner's traceback, or the limit's message when the
     * code printed nothing).
     */
    public static Execution execution(String id, String identifier, boolean asynchronous, ExecutionResult result) {
        Status status = switch (result.status()) {
            case Succeeded -> Status.Succeeded;
            case Cancelled -> Status.Cancelled;
            case Failed, TimedOut -> Status.Failed;
        };
        String stderr = result.stderr() == null ? "" : result.stderr();
        if (result.status() != ExecutionResult.Status.Succeeded && stderr.isBlank() && result.errorMessage() != null) {
            stderr = result.errorMessage();
        }
        JsonNode value = PoolResultValue.of(result);
        return new Execution(id, identifier, identifier, executionType(asynchronous), status,
                new Output(result.stdout() == null ? "" : result.stdout(), stderr, value, result.executionMs()));
    }

    /** An asynchronous execution that could not start (the pool was full, say): Failed with the reason. */
    public static Execution notStarted(String id, String identifier, String reason) {
        return new Execution(id, identifier, identifier, executionType(true), Status.Failed,
                new Output("", reason, TextNode.valueOf(""), 0));
    }

    /** The content type is guessed from the name, the same way for an upload and a listing. */
    public static FileMetadata file(SessionFile file) {
        return new FileMetadata(file.name(), "File", contentType(file.name()), file.size(),
                file.lastModified().truncatedTo(ChronoUnit.MILLIS).toString());
    }

    /** A file's content type by its name (the JDK's table of extensions); unknown ones are octet-stream. */
    public static String contentType(String name) {
        String guessed = URLConnection.getFileNameMap().getContentTypeFor(name);
        return guessed == null ? "application/octet-stream" : guessed;
    }

    public static FileList files(SessionFiles listing) {
        return new FileList(listing.files().stream().map(ResourceResponses::file).toList(),
                listing.truncated() ? Boolean.TRUE : null);
    }

    public static Session session(SessionInfo info) {
        return new Session(info.identifier(), text(info.createdAt()), text(info.lastUsedAt()), text(info.expiresAt()),
                etag(info), null);
    }

    /** For the operator: which tenant the session belongs to ({@code ""}: the shared tenant). */
    public static Session sessionWithTenant(SessionInfo info) {
        Session session = session(info);
        return new Session(session.identifier(), session.createdAt(), session.lastAccessedAt(), session.expireAt(),
                session.etag(), info.key().tenant().id());
    }

    /** Derived from what tells one session of an identifier from the next: its tenant, identifier and creation. */
    private static String etag(SessionInfo info) {
        String of = info.key().tenant().id() + "\n" + info.identifier() + "\n"
                + (info.createdAt() == null ? "" : info.createdAt().toString());
        return UUID.nameUUIDFromBytes(of.getBytes(StandardCharsets.UTF_8)).toString();
    }

    private static String text(Instant instant) {
        return instant == null ? null : instant.truncatedTo(ChronoUnit.MILLIS).toString();
    }
}
