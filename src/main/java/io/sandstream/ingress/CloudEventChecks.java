package io.sandstream.ingress;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;

import io.sandstream.problem.Problem.FieldError;

/**
 * The CloudEvents 1.0 rules the SDK does not enforce: it accepts an empty {@code id} or
 * {@code type}, spec version 0.3, any string as {@code source}, and does not report every problem
 * at once. Used for structured (JSON) and binary (header) events alike.
 */
final class CloudEventChecks {

    private static final Set<String> CONTEXT_ATTRIBUTES = Set.of(
            "specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema");
    private static final Pattern EXTENSION_NAME = Pattern.compile("[a-z0-9]+");
    /** RFC 3339 date-time; {@link OffsetDateTime} then checks the calendar. */
    private static final Pattern RFC3339 = Pattern.compile(
            "\\d{4}-\\d{2}-\\d{2}[Tt]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?([Zz]|[+-]\\d{2}:\\d{2})");

    private CloudEventChecks() {
    }

    /** Checks a structured-mode event (a JSON object); {@code at} is its JSON Pointer. */
    static void checkStructured(JsonNode event, String at, List<FieldError> errors) {
        event.fields().forEachRemaining(field -> {
            String name = field.getKey();
            JsonNode value = field.getValue();
            if (name.equals("data") || name.equals("data_base64")) {
                return;
            }
            if (CONTEXT_ATTRIBUTES.contains(name) && !value.isTextual() && !value.isNull()) {
                errors.add(new FieldError(at + "/" + name, "must be a string"));
            } else if (!CONTEXT_ATTRIBUTES.contains(name) && !EXTENSION_NAME.matcher(name).matches()) {
                errors.add(new FieldError(at + "/" + escape(name),
                        "attribute names must consist of lower-case letters a-z and digits 0-9"));
            } else if (!(value.isTextual() || value.isNumber() || value.isBoolean() || value.isNull())) {
                errors.add(new FieldError(at + "/" + escape(name), "attribute values must be strings, numbers or booleans"));
            }
        });
        if (event.has("data") && event.has("data_base64")) {
            errors.add(new FieldError(at + "/data_base64", "must not be present together with 'data'"));
        }
        checkAttributes(textOf(event, "specversion"), textOf(event, "id"), textOf(event, "source"),
                textOf(event, "type"), textOf(event, "time"), textOf(event, "dataschema"), at, errors);
    }

    /** Checks binary-mode attributes (already percent-decoded); pointers name the headers. */
    static void checkBinary(Map<String, String> attributes, List<FieldError> errors) {
        attributes.keySet().forEach(name -> {
            if (!EXTENSION_NAME.matcher(name).matches()) {
                errors.add(new FieldError("/headers/ce-" + name,
                        "attribute names must consist of lower-case letters a-z and digits 0-9"));
            }
        });
        checkAttributes(attributes.get("specversion"), attributes.get("id"), attributes.get("source"),
                attributes.get("type"), attributes.get("time"), attributes.get("dataschema"), "/headers/ce-", errors);
    }

    private static void checkAttributes(String specversion, String id, String source, String type, String time,
            String dataschema, String at, List<FieldError> errors) {
        String sep = at.endsWith("-") ? "" : "/";
        if (!"1.0".equals(specversion)) {
            errors.add(new FieldError(at + sep + "specversion", "must be \"1.0\""));
        }
        if (id == null || id.isEmpty()) {
            errors.add(new FieldError(at + sep + "id", "is required and must be a non-empty string"));
        }
        if (source == null || source.isEmpty()) {
            errors.add(new FieldError(at + sep + "source", "is required and must be a non-empty URI-reference"));
        } else if (!isUriReference(source)) {
            errors.add(new FieldError(at + sep + "source", "must be a URI-reference (RFC 3986)"));
        }
        if (type == null || type.isEmpty()) {
            errors.add(new FieldError(at + sep + "type", "is required and must be a non-empty string"));
        }
        if (time != null && !isRfc3339(time)) {
            errors.add(new FieldError(at + sep + "time", "must be an RFC 3339 timestamp"));
        }
        if (dataschema != null && (dataschema.isEmpty() || !isUriReference(dataschema))) {
            errors.add(new FieldError(at + sep + "dataschema", "must be a non-empty URI"));
        }
    }

    static boolean isUriReference(String value) {
        try {
            new URI(value);
            return true;
        } catch (URISyntaxException e) {
            return false;
        }
    }

    static boolean isRfc3339(String value) {
        if (!RFC3339.matcher(value).matches()) {
            return false;
        }
        try {
            OffsetDateTime.parse(value.toUpperCase());
            return true;
        } catch (DateTimeParseException e) {
            return false;
        }
    }

    static String textOf(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? null : value.asText();
    }

    /** JSON Pointer escaping (RFC 6901). */
    static String escape(String name) {
        return name.replace("~", "~0").replace("/", "~1");
    }
}
