package io.sandstream.poolapi;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The body of a resource-contract {@code POST executions}: flat,
 * {@code {"code":"...","codeInputType":"Inline","executionType":"Synchronous","timeoutInSeconds":N}},
 * or the same fields inside {@code "properties"}. Names and enum values are matched without regard
 * to case and unknown fields are ignored, as in {@link LegacyExecuteRequest}.
 *
 * @param timeoutSeconds the requested timeout, or null for the service default
 */
public record ExecutionRequest(String code, boolean asynchronous, Integer timeoutSeconds) {

    /** Parses and checks a body; a {@link PoolApiException} (400) names the first problem. */
    public static ExecutionRequest parse(byte[] body, int maxCodeBytes, int maxTimeoutSeconds) {
        JsonNode root = LegacyExecuteRequest.object(body, "The body must be a JSON object with 'code'.");
        JsonNode fields = root;
        String prefix = "";
        JsonNode envelope = LegacyExecuteRequest.field(root, "properties").orElse(null);
        if (envelope != null && !envelope.isNull()) {
            if (!envelope.isObject()) {
                throw LegacyExecuteRequest.invalid("'properties' must be an object.");
            }
            fields = envelope;
            prefix = "properties.";
        }
        String inputType = text(fields, prefix, "codeInputType");
        if (inputType != null && !inputType.equalsIgnoreCase("inline")) {
            throw LegacyExecuteRequest.invalid("'" + prefix + "codeInputType' must be 'Inline'.");
        }
        String executionType = text(fields, prefix, "executionType");
        boolean asynchronous = executionType != null && executionType.equalsIgnoreCase("asynchronous");
        if (executionType != null && !asynchronous && !executionType.equalsIgnoreCase("synchronous")) {
            throw LegacyExecuteRequest.invalid("'" + prefix + "executionType' must be 'Synchronous' or 'Asynchronous'.");
        }
        return new ExecutionRequest(LegacyExecuteRequest.code(fields, prefix, "code", maxCodeBytes), asynchronous,
                LegacyExecuteRequest.timeout(fields, prefix, maxTimeoutSeconds));
    }

    private static String text(JsonNode fields, String prefix, String name) {
        JsonNode value = LegacyExecuteRequest.field(fields, name).orElse(null);
        if (value == null || value.isNull()) {
            return null;
        }
        if (!value.isTextual()) {
            throw LegacyExecuteRequest.invalid("'" + prefix + name + "' must be a string.");
        }
        return value.textValue();
    }
}
