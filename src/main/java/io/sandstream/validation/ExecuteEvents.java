package io.sandstream.validation;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import jakarta.enterprise.context.ApplicationScoped;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.cloudevents.CloudEvent;
import io.cloudevents.CloudEventData;
import io.cloudevents.jackson.JsonCloudEventData;
import io.sandstream.problem.Problem.FieldError;

/**
 * What an execute event carries: its {@code data} as JSON (JSON data as it is, or the code itself
 * sent as text), and the execute request in it. Ingress reads it to admit an event; the dispatcher
 * reads it again from the journalled event.
 */
@ApplicationScoped
public class ExecuteEvents {

    private final ExecuteRequestValidator validator;
    private final ObjectMapper mapper = new ObjectMapper();

    public ExecuteEvents(ExecuteRequestValidator validator) {
        this.validator = validator;
    }

    /** The execute request an (already admitted) event carries, validated again. */
    public ExecuteRequestValidator.Result requestOf(CloudEvent event) {
        List<FieldError> errors = new ArrayList<>();
        JsonNode data = dataOf(event, "", errors);
        if (data == null) {
            return new ExecuteRequestValidator.Result(null, errors.isEmpty()
                    ? List.of(new FieldError("/data", "is required")) : errors);
        }
        return validator.validate(data, "/data");
    }

    /**
     * The event's data as JSON. JSON data is used as it is; text data (a {@code text/*} or
     * script content type) is the code itself, its language taken from the {@code language}
     * extension or the content type.
     */
    public JsonNode dataOf(CloudEvent event, String at, List<FieldError> errors) {
        CloudEventData data = event.getData();
        if (data == null) {
            return null;
        }
        if (data instanceof JsonCloudEventData json) {
            return json.getNode();
        }
        String contentType = event.getDataContentType() == null ? "application/json"
                : mediaType(event.getDataContentType());
        byte[] bytes = data.toBytes();
        if (contentType.equals("application/json") || contentType.endsWith("+json")) {
            try {
                return mapper.readTree(bytes);
            } catch (IOException e) {
                errors.add(new FieldError(at + "/data", "is not valid JSON"));
                return null;
            }
        }
        if (contentType.startsWith("text/") || contentType.contains("javascript") || contentType.contains("python")) {
            ObjectNode node = mapper.createObjectNode();
            node.put("code", new String(bytes, StandardCharsets.UTF_8));
            Object language = event.getExtension("language");
            if (language != null) {
                node.put("language", language.toString());
            } else if (contentType.contains("javascript")) {
                node.put("language", "javascript");
            }
            copyExtension(event, "sessionid", "sessionId", node);
            copyExtension(event, "timeoutseconds", "timeoutSeconds", node);
            return node;
        }
        errors.add(new FieldError(at + "/datacontenttype",
                "data must be JSON, or the code itself as text/* ('" + contentType.toLowerCase(Locale.ROOT) + "' given)"));
        return null;
    }

    private static void copyExtension(CloudEvent event, String extension, String field, ObjectNode node) {
        Object value = event.getExtension(extension);
        if (value instanceof Number number) {
            node.put(field, number.longValue());
        } else if (value != null) {
            String text = value.toString();
            if (field.equals("timeoutSeconds") && text.matches("\\d{1,9}")) {
                node.put(field, Integer.parseInt(text));
            } else {
                node.put(field, text);
            }
        }
    }

    /** The media type of a {@code Content-Type} value: parameters dropped, lower case; null for none. */
    public static String mediaType(String contentType) {
        if (contentType == null) {
            return null;
        }
        int semicolon = contentType.indexOf(';');
        return (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
    }
}
