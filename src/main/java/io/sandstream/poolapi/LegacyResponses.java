package io.sandstream.poolapi;

import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;

import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.SessionFile;
import io.sandstream.sessions.SessionFiles;

/**
 * The legacy ({@code 2024-02-02-preview}, {@code 2024-08-02-preview}) response bodies. They carry
 * .NET reference ids ({@code "$id"}: "1", "2", … in document order) as the service's do.
 */
public final class LegacyResponses {

    private LegacyResponses() {
    }

    @JsonPropertyOrder({ "$id", "identifier", "properties" })
    public record Execution(@JsonProperty("$id") String id, String identifier, ExecutionProperties properties) {
    }

    @JsonPropertyOrder({ "$id", "status", "stdout", "stderr", "result", "executionTimeInMilliseconds" })
    public record ExecutionProperties(@JsonProperty("$id") String id, String status, String stdout, String stderr,
            JsonNode result, long executionTimeInMilliseconds) {
    }

    @JsonPropertyOrder({ "$id", "value" })
    /** {@code truncated} only when the session holds more files than one listing answers (sandstream's own field). */
    public record FileList(@JsonProperty("$id") String id, List<FileEntry> value,
            @JsonInclude(JsonInclude.Include.NON_NULL) Boolean truncated) {
    }

    public record FileEntry(@JsonProperty("$id") String id, FileProperties properties) {
    }

    @JsonPropertyOrder({ "$id", "filename", "size", "lastModifiedTime" })
    public record FileProperties(@JsonProperty("$id") String id, String filename, long size, String lastModifiedTime) {
    }

    /**
     * Only {@code Succeeded} is "Success": failing code, a timeout or a limit is "Failure" with the
     * reason in stderr (the runner's traceback, or the limit's message when the code printed nothing).
     */
    public static Execution execution(String identifier, ExecutionResult result) {
        return new Execution("1", identifier, properties("2", result));
    }

    /**
     * The execution's properties alone: the whole body of {@code python/execute}, which Semantic
     * Kernel .NET read at the top level (its test data: {@code {"$id":"1","status":"Success",...}}).
     */
    public static ExecutionProperties unwrappedExecution(ExecutionResult result) {
        return properties("1", result);
    }

    private static ExecutionProperties properties(String id, ExecutionResult result) {
        boolean success = result.status() == ExecutionResult.Status.Succeeded;
        String stderr = result.stderr() == null ? "" : result.stderr();
        if (!success && stderr.isBlank() && result.errorMessage() != null) {
            stderr = result.errorMessage();
        }
        JsonNode value = PoolResultValue.of(result);
        return new ExecutionProperties(id, success ? "Success" : "Failure", result.stdout() == null ? "" : result.stdout(),
                stderr, value, result.executionMs());
    }

    public static FileList files(SessionFiles listing) {
        FileList list = files(listing.files());
        return new FileList(list.id(), list.value(), listing.truncated() ? Boolean.TRUE : null);
    }

    public static FileList files(List<SessionFile> files) {
        List<FileEntry> entries = new ArrayList<>(files.size());
        int id = 2;
        for (SessionFile file : files) {
            entries.add(new FileEntry(Integer.toString(id), new FileProperties(Integer.toString(id + 1), file.name(),
                    file.size(), file.lastModified().truncatedTo(ChronoUnit.MILLIS).toString())));
            id += 2;
        }
        return new FileList("1", entries, null);
    }
}
