package io.sandstream.poolapi;

import java.util.Iterator;
import java.util.Map;
import java.util.Optional;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.validation.StrictUtf8;

/**
 * The body of a legacy {@code POST code/execute}:
 * {@code {"properties":{"codeInputType":"inline","executionType":"synchronous","code":"...","timeoutInSeconds":N}}}.
 * Property names are matched without regard to case (clients differ) and unknown ones are ignored.
 * The code may also come as {@code pythonCode}, as Semantic Kernel .NET sent it to {@code python/execute}.
 *
 * @param timeoutSeconds the requested timeout, or null for the service default
 */
public record LegacyExecuteRequest(String code, Integer timeoutSeconds) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Parses and checks a body; a {@link PoolApiException} (400) names the first problem. */
    public static LegacyExecuteRequest parse(byte[] body, int maxCodeBytes, int maxTimeoutSeconds) {
        JsonNode root = object(body, "The body must be a JSON object with 'properties'.");
        JsonNode properties = field(root, "properties").orElse(null);
        if (properties == null || !properties.isObject()) {
            throw invalid("'properties' must be an object.");
        }
        expect(properties, "codeInputType", "inline");
        expect(properties, "executionType", "synchronous");
        String codeField = field(properties, "code").isEmpty() && field(properties, "pythonCode").isPresent()
                ? "pythonCode" : "code";
        return new LegacyExecuteRequest(code(properties, "properties.", codeField, maxCodeBytes),
                timeout(properties, "properties.", maxTimeoutSeconds));
    }

    /**
     * The {@code properties.identifier} of a body, where {@code python/execute} carried the session
     * identifier; null when there is none or the body is not JSON ({@link #parse} reports that).
     */
    public static String bodyIdentifier(byte[] body) {
        JsonNode root;
        try {
            root = body == null || body.length == 0 ? null : JSON.readTree(body);
        } catch (java.io.IOException e) {
            return null;
        }
        return Optional.ofNullable(root).filter(JsonNode::isObject).flatMap(r -> field(r, "properties"))
                .filter(JsonNode::isObject).flatMap(p -> field(p, "identifier")).filter(JsonNode::isTextual)
                .map(JsonNode::textValue).orElse(null);
    }

    /** The body as a JSON object, or a 400 with {@code notObject} as its message. */
    static JsonNode object(byte[] body, String notObject) {
        JsonNode root;
        StrictUtf8.inJson(body == null ? new byte[0] : body).ifPresent(error -> {
            throw invalid("The body is not valid UTF-8 at '" + error.pointer() + "'.");
        });
        try {
            root = body == null || body.length == 0 ? null : JSON.readTree(body);
        } catch (java.io.IOException e) {
            throw invalid("The body is not valid JSON.");
        }
        if (root == null || !root.isObject()) {
            throw invalid(notObject);
        }
        return root;
    }

    /**
     * The required code in the field {@code name} of {@code properties}; {@code prefix} names where it
     * sits in messages. Blank code is an empty cell, which a Jupyter kernel runs without complaint:
     * AutoGen's {@code restart()} sends {@code "\n\n"} and expects a success.
     */
    static String code(JsonNode properties, String prefix, String name, int maxCodeBytes) {
        JsonNode code = field(properties, name).orElse(null);
        if (code == null || !code.isTextual()) {
            throw invalid("'" + prefix + name + "' is required and must be a string.");
        }
        if (code.textValue().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > maxCodeBytes) {
            throw invalid("'" + prefix + name + "' may be at most " + maxCodeBytes + " bytes of UTF-8.");
        }
        return code.textValue();
    }

    /** The optional {@code timeoutInSeconds} of {@code properties}, or null. */
    static Integer timeout(JsonNode properties, String prefix, int maxTimeoutSeconds) {
        JsonNode timeoutNode = field(properties, "timeoutInSeconds").orElse(null);
        if (timeoutNode == null || timeoutNode.isNull()) {
            return null;
        }
        if (!timeoutNode.canConvertToInt() || !timeoutNode.isIntegralNumber() || timeoutNode.intValue() < 1
                || timeoutNode.intValue() > maxTimeoutSeconds) {
            throw invalid("'" + prefix + "timeoutInSeconds' must be an integer from 1 to " + maxTimeoutSeconds + ".");
        }
        return timeoutNode.intValue();
    }

    private static void expect(JsonNode properties, String name, String only) {
        field(properties, name).ifPresent(value -> {
            if (!value.isTextual() || !value.textValue().equalsIgnoreCase(only)) {
                throw invalid("'properties." + name + "' must be '" + only + "' in this API version.");
            }
        });
    }

    static Optional<JsonNode> field(JsonNode object, String name) {
        for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> entry = it.next();
            if (entry.getKey().equalsIgnoreCase(name)) {
                return Optional.of(entry.getValue());
            }
        }
        return Optional.empty();
    }

    static PoolApiException invalid(String message) {
        return PoolApiException.badRequest("InvalidRequestBody", message);
    }
}
