package io.sandstream.sessions.aca;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.sandstream.config.SandstreamConfig.AcaContract;
import io.sandstream.sessions.ExecutionResult.Status;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.SessionFile;

/**
 * The dynamic-sessions JSON both ways, apart from HTTP so that it is checked against the bodies
 * Azure answers ({@code AcaWireTest}). Lenient where the two contracts and their versions differ:
 * status words in any case, missing fields, {@code $id} references, a {@code /mnt/data/} prefix.
 */
final class AcaWire {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DATA_DIR = "/mnt/data/";
    /** The line that names an exception in a traceback: {@code ValueError: boom}, {@code KeyboardInterrupt}. */
    private static final Pattern EXCEPTION_LINE = Pattern.compile(
            "^([A-Za-z_$][\\w$.]*(?:Error|Exception|Interrupt|Exit))(?::\\s?(.*))?$");

    /** An Azure error answer: {@code {"error":{"code","message"}}} or the {@code x-ms-error-code} header. */
    record AzureError(String code, String message) {
    }

    private AcaWire() {
    }

    /** The body of a synchronous execution request. */
    static ObjectNode executeBody(AcaContract contract, String code, int timeoutSeconds) {
        if (contract == AcaContract.LEGACY) {
            ObjectNode body = JSON.createObjectNode();
            body.putObject("properties").put("codeInputType", "inline").put("executionType", "synchronous")
                    .put("code", code).put("timeoutInSeconds", timeoutSeconds);
            return body;
        }
        return JSON.createObjectNode().put("codeInputType", "Inline").put("executionType", "Synchronous")
                .put("code", code).put("timeoutInSeconds", timeoutSeconds);
    }

    /**
     * A finished execution as our result. Legacy: {@code {"properties":{"status","stdout","stderr",
     * "result","executionTimeInMilliseconds"}}}; resource: {@code {"status","error"?,"result":{"stdout",
     * "stderr","executionResult","executionTimeInMilliseconds"}}}. ACA has no value for "no value"
     * and answers {@code ""}: that, like {@code null}, becomes no result.
     */
    static ExecutionResult execution(AcaContract contract, JsonNode body, Instant startedAt, Instant completedAt) {
        JsonNode output = contract == AcaContract.LEGACY ? body.path("properties") : body.path("result");
        JsonNode statusNode = contract == AcaContract.LEGACY ? output.path("status") : body.path("status");
        JsonNode value = output.path(contract == AcaContract.LEGACY ? "result" : "executionResult");
        AzureError error = error(body, null);
        Status status = status(statusNode.asText(""), error == null ? null : error.code());
        String stdout = output.path("stdout").asText("");
        String stderr = output.path("stderr").asText("");
        JsonNode ms = output.path("executionTimeInMilliseconds");
        long executionMs = ms.canConvertToLong() ? ms.asLong()
                : java.time.Duration.between(startedAt, completedAt).toMillis();
        boolean noValue = value.isMissingNode() || value.isNull() || (value.isTextual() && value.textValue().isEmpty());
        String errorType = null;
        String errorMessage = null;
        if (status != Status.Succeeded) {
            AzureError cause = error != null ? error : exceptionIn(stderr, statusNode.asText(""));
            errorType = cause.code();
            errorMessage = cause.message();
        }
        return new ExecutionResult(status, stdout, stderr, noValue ? null : value, errorType, errorMessage, false, null,
                false, startedAt, completedAt, executionMs);
    }

    /**
     * An execution the pool refused (a 4xx that is not "pool full"): a failed result, as the request
     * itself was at fault, with Azure's error code as its type.
     */
    static ExecutionResult refused(AzureError error, Instant startedAt, Instant completedAt) {
        return new ExecutionResult(Status.Failed, "", error.message(), null, error.code(), error.message(), false, null,
                false, startedAt, completedAt, java.time.Duration.between(startedAt, completedAt).toMillis());
    }

    /** Succeeded/Success, Failed/Failure, Canceled/Cancelled, any timeout word; anything else (Running) failed. */
    static Status status(String wire, String errorCode) {
        String s = wire.toLowerCase(Locale.ROOT);
        if (s.contains("timeout") || s.contains("timedout")
                || (errorCode != null && errorCode.toLowerCase(Locale.ROOT).contains("timeout"))) {
            return Status.TimedOut;
        }
        return switch (s) {
            case "succeeded", "success" -> Status.Succeeded;
            case "canceled", "cancelled" -> Status.Cancelled;
            default -> Status.Failed;
        };
    }

    /** The exception a traceback ends with, for the result's {@code error}; else the status itself. */
    private static AzureError exceptionIn(String stderr, String status) {
        List<String> lines = stderr.lines().toList();
        for (int i = lines.size() - 1; i >= 0; i--) {
            Matcher m = EXCEPTION_LINE.matcher(lines.get(i).strip());
            if (m.matches()) {
                return new AzureError(m.group(1), m.group(2) == null ? "" : m.group(2));
            }
        }
        return new AzureError("ExecutionFailed", "the session answered status " + (status.isEmpty() ? "(none)" : status));
    }

    /** The file a legacy upload (a one-entry list) or a resource upload (one metadata object) answered. */
    static SessionFile uploaded(AcaContract contract, JsonNode body) {
        if (contract == AcaContract.LEGACY) {
            List<SessionFile> files = files(contract, body);
            if (files.isEmpty()) {
                throw new IllegalArgumentException("the upload answer lists no file");
            }
            return files.get(0);
        }
        return resourceFile(body);
    }

    /** A file listing: legacy {@code value[].properties.{filename,size,lastModifiedTime}}, resource {@code value[].{name,type,sizeInBytes,lastModifiedAt}}. */
    static List<SessionFile> files(AcaContract contract, JsonNode body) {
        List<SessionFile> files = new ArrayList<>();
        for (JsonNode entry : body.path("value")) {
            if (contract == AcaContract.LEGACY) {
                JsonNode p = entry.path("properties");
                files.add(new SessionFile(plainName(p.path("filename").asText()), p.path("size").asLong(),
                        instant(p.path("lastModifiedTime").asText(null))));
            } else if (entry.path("type").asText("File").equalsIgnoreCase("File")) {
                files.add(resourceFile(entry));
            }
        }
        return files;
    }

    private static SessionFile resourceFile(JsonNode file) {
        return new SessionFile(plainName(file.path("name").asText()), file.path("sizeInBytes").asLong(),
                instant(file.path("lastModifiedAt").asText(null)));
    }

    private static String plainName(String name) {
        return name.startsWith(DATA_DIR) ? name.substring(DATA_DIR.length()) : name;
    }

    private static Instant instant(String text) {
        if (text == null) {
            return Instant.EPOCH;
        }
        try {
            return OffsetDateTime.parse(text).toInstant();
        } catch (DateTimeParseException e) {
            return Instant.EPOCH;
        }
    }

    /** The Azure error of an answer, from its body or else its {@code x-ms-error-code}; null when neither says. */
    static AzureError error(JsonNode body, String headerCode) {
        JsonNode error = body == null ? null : body.has("error") ? body.get("error") : body.has("code") ? body : null;
        if (error != null && error.isObject() && error.hasNonNull("code")) {
            return new AzureError(error.get("code").asText(), error.path("message").asText(""));
        }
        return headerCode == null || headerCode.isBlank() ? null : new AzureError(headerCode, "");
    }

    static AzureError error(byte[] body, String headerCode) {
        try {
            return error(body.length == 0 ? null : JSON.readTree(body), headerCode);
        } catch (java.io.IOException e) {
            return error((JsonNode) null, headerCode);
        }
    }

    /**
     * A 404 that means "no session could be allocated" rather than "no such file": ACA has answered
     * a pool at its session limit that way as well as with 429. Told apart by what the error names.
     */
    static boolean poolFull(AzureError error) {
        if (error == null) {
            return false;
        }
        String said = (error.code() + " " + error.message()).toLowerCase(Locale.ROOT);
        return said.contains("poolfull") || said.contains("pool is full") || said.contains("capacity")
                || said.contains("no available session") || said.contains("maximum number of sessions")
                || said.contains("max concurrent");
    }

    static JsonNode json(byte[] body) {
        try {
            return JSON.readTree(body);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("the pool answered a body that is not JSON", e);
        }
    }
}
