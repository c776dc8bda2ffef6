package io.sandstream.ingress;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

import jakarta.enterprise.context.ApplicationScoped;

import com.azure.messaging.eventgrid.EventGridEvent;
import com.azure.messaging.eventgrid.SystemEventNames;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.cloudevents.jackson.JsonFormat;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.problem.Problem.FieldError;
import io.sandstream.problem.ProblemException;
import io.sandstream.validation.ExecuteEvents;
import io.sandstream.validation.StrictUtf8;

/**
 * Turns a {@code POST /events} request into CloudEvents, whatever shape it arrived in: CloudEvents
 * structured, batch or binary mode, or the Event Grid schema. Parsing is the SDKs' (CloudEvents
 * Jackson module, azure-messaging-eventgrid); this class picks the mode, adds the checks the SDKs
 * lack and keeps a broken event from failing its neighbours.
 */
@ApplicationScoped
public class EventDecoder {

    static final String CE_JSON = "application/cloudevents+json";
    static final String CE_BATCH = "application/cloudevents-batch+json";
    private static final String JSON = "application/json";

    private final ObjectMapper mapper = new ObjectMapper().registerModule(JsonFormat.getCloudEventJacksonModule());
    private final SandstreamConfig.Ingress config;

    public EventDecoder(SandstreamConfig config) {
        this.config = config.ingress();
    }

    /**
     * @param contentType the request's {@code Content-Type}, may be null
     * @param header looks up a request header by (case-insensitive) name, null when absent
     * @param headerNames every header name of the request
     */
    public DecodedRequest decode(String contentType, Function<String, String> header, Iterable<String> headerNames,
            byte[] body) {
        String mediaType = ExecuteEvents.mediaType(contentType);
        if (CE_JSON.equals(mediaType)) {
            JsonNode tree = parse(body);
            return tree.isArray() ? new DecodedRequest.Events(cloudEvents(tree, body.length), true)
                    : new DecodedRequest.Events(List.of(structured(tree, 0, "")), false);
        }
        if (CE_BATCH.equals(mediaType)) {
            JsonNode tree = parse(body);
            if (!tree.isArray()) {
                throw ProblemException.badRequest("A CloudEvents batch must be a JSON array.", List.of());
            }
            return new DecodedRequest.Events(cloudEvents(tree, body.length), true);
        }
        if (header.apply("ce-specversion") != null) {
            return new DecodedRequest.Events(List.of(binary(contentType, header, headerNames, body)), false);
        }
        if (JSON.equals(mediaType) || (mediaType != null && mediaType.endsWith("+json"))) {
            JsonNode tree = parse(body);
            return eventGrid(tree, body.length);
        }
        throw ProblemException.unsupportedMediaType("Send application/cloudevents+json, "
                + "application/cloudevents-batch+json, CloudEvents binary mode (ce-* headers) "
                + "or the Event Grid schema as application/json; got " + (contentType == null ? "no Content-Type" : contentType) + ".");
    }

    // ---- CloudEvents, structured and batch -------------------------------------------------------

    private List<IncomingEvent> cloudEvents(JsonNode array, int bodyLength) {
        checkBatchSize(array);
        List<IncomingEvent> events = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++) {
            IncomingEvent event = structured(array.get(i), i, "/" + i);
            events.add(oversized(array.get(i), bodyLength, event));
        }
        return events;
    }

    private IncomingEvent structured(JsonNode node, int index, String at) {
        if (!node.isObject()) {
            return malformed(index, node, List.of(new FieldError(at.isEmpty() ? "/" : at, "an event must be a JSON object")));
        }
        List<FieldError> errors = new ArrayList<>();
        CloudEventChecks.checkStructured(node, at, errors);
        if (errors.isEmpty()) {
            try {
                return new IncomingEvent.Parsed(index, mapper.treeToValue(node, CloudEvent.class));
            } catch (IOException | RuntimeException e) {
                errors.add(new FieldError(at.isEmpty() ? "/" : at, "not a valid CloudEvent: " + rootMessage(e)));
            }
        }
        return malformed(index, node, errors);
    }

    // ---- CloudEvents, binary mode ----------------------------------------------------------------

    private IncomingEvent binary(String contentType, Function<String, String> header, Iterable<String> headerNames,
            byte[] body) {
        Map<String, String> attributes = new LinkedHashMap<>();
        List<FieldError> errors = new ArrayList<>();
        for (String name : headerNames) {
            String lower = name.toLowerCase(Locale.ROOT);
            if (lower.startsWith("ce-") && lower.length() > 3) {
                try {
                    attributes.put(lower.substring(3), percentDecode(header.apply(name)));
                } catch (IllegalArgumentException e) {
                    errors.add(new FieldError("/headers/" + lower, e.getMessage()));
                }
            }
        }
        int invalid = body.length > 0 && textual(contentType) ? StrictUtf8.firstInvalid(body) : -1;
        if (invalid >= 0) {
            errors.add(new FieldError("/data", "is not valid UTF-8 (byte " + invalid + ")"));
        }
        if (!errors.isEmpty()) {
            throw ProblemException.badRequest("The request is not valid UTF-8 where it must be: "
                    + errors.get(0).pointer() + ".", errors);
        }
        CloudEventChecks.checkBinary(attributes, errors);
        if (!errors.isEmpty()) {
            return new IncomingEvent.Malformed(0, attributes.get("id"), attributes.get("source"), attributes.get("type"),
                    attributes.get("subject"), body, null, errors);
        }
        try {
            CloudEventBuilder builder = CloudEventBuilder.v1()
                    .withId(attributes.remove("id"))
                    .withSource(URI.create(attributes.remove("source")))
                    .withType(attributes.remove("type"));
            attributes.remove("specversion");
            String subject = attributes.remove("subject");
            if (subject != null) {
                builder.withSubject(subject);
            }
            String time = attributes.remove("time");
            if (time != null) {
                builder.withTime(OffsetDateTime.parse(time.toUpperCase(Locale.ROOT)));
            }
            String dataschema = attributes.remove("dataschema");
            if (dataschema != null) {
                builder.withDataSchema(URI.create(dataschema));
            }
            attributes.remove("datacontenttype");
            attributes.forEach(builder::withExtension);
            if (body.length > 0) {
                builder.withData(contentType, body);
            }
            return new IncomingEvent.Parsed(0, builder.build());
        } catch (RuntimeException e) {
            return new IncomingEvent.Malformed(0, null, null, null, null, body, null,
                    List.of(new FieldError("/headers", "not a valid CloudEvent: " + rootMessage(e))));
        }
    }

    /**
     * Decodes the percent-encoding the CloudEvents HTTP binding applies to header values (UTF-8
     * bytes as {@code %XX}), then the bytes as strict UTF-8. The HTTP layer hands header bytes over
     * one char per byte (ISO-8859-1), so raw non-ASCII bytes are decoded as the UTF-8 they should be
     * too. A malformed escape is kept literally: it is data, not an error.
     *
     * @throws IllegalArgumentException when the decoded bytes are not valid UTF-8
     */
    static String percentDecode(String value) {
        if (value == null) {
            return null;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(value.length());
        boolean plain = true;
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == '%' && i + 2 < value.length() && hex(value.charAt(i + 1)) >= 0 && hex(value.charAt(i + 2)) >= 0) {
                out.write(hex(value.charAt(i + 1)) << 4 | hex(value.charAt(i + 2)));
                i += 2;
                plain = false;
            } else if (c <= 0xFF) {
                out.write(c);
                plain &= c < 0x80;
            } else {
                // Already text (a caller that is not the HTTP layer): keep it as its UTF-8.
                out.writeBytes(String.valueOf(c).getBytes(StandardCharsets.UTF_8));
                plain = false;
            }
        }
        if (plain) {
            return value;
        }
        try {
            return StrictUtf8.decode(out.toByteArray());
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("is not valid UTF-8 once percent-decoded");
        }
    }

    private static int hex(char c) {
        return c < 0x80 ? Character.digit(c, 16) : -1;
    }

    /** Binary-mode data that the pipeline reads as text: JSON, {@code text/*}, scripts. */
    private static boolean textual(String contentType) {
        String media = ExecuteEvents.mediaType(contentType);
        return media != null && (media.equals(JSON) || media.endsWith("+json") || media.startsWith("text/")
                || media.contains("script") || media.contains("python"));
    }

    // ---- Event Grid schema -----------------------------------------------------------------------

    private DecodedRequest eventGrid(JsonNode tree, int bodyLength) {
        boolean batch = tree.isArray();
        if (!batch && !tree.isObject()) {
            throw ProblemException.badRequest("The body must be an event object or an array of events.", List.of());
        }
        List<JsonNode> nodes = new ArrayList<>();
        tree.forEach(nodes::add);
        if (!batch) {
            nodes = List.of(tree);
        }
        checkBatchSize(tree);
        for (JsonNode node : nodes) {
            if (SystemEventNames.EVENT_GRID_SUBSCRIPTION_VALIDATION.equals(CloudEventChecks.textOf(node, "eventType"))) {
                JsonNode code = node.path("data").path("validationCode");
                if (!code.isTextual()) {
                    throw ProblemException.badRequest("A subscription validation event carries data.validationCode.",
                            List.of(new FieldError("/data/validationCode", "is required")));
                }
                return new DecodedRequest.ValidationHandshake(code.textValue());
            }
        }
        List<IncomingEvent> events = new ArrayList<>(nodes.size());
        for (int i = 0; i < nodes.size(); i++) {
            JsonNode node = nodes.get(i);
            String at = batch ? "/" + i : "";
            IncomingEvent event = node.has("specversion") ? structured(node, i, at) : eventGridEvent(node, i, at);
            events.add(oversized(node, bodyLength, event));
        }
        return new DecodedRequest.Events(events, batch);
    }

    private IncomingEvent eventGridEvent(JsonNode node, int index, String at) {
        if (!node.isObject()) {
            return malformed(index, node, List.of(new FieldError(at.isEmpty() ? "/" : at, "an event must be a JSON object")));
        }
        List<FieldError> errors = new ArrayList<>();
        for (String required : List.of("id", "eventType", "subject")) {
            JsonNode value = node.get(required);
            if (value == null || !value.isTextual() || value.textValue().isEmpty()) {
                errors.add(new FieldError(at + "/" + required, "is required and must be a non-empty string"));
            }
        }
        String eventTime = CloudEventChecks.textOf(node, "eventTime");
        if (eventTime != null && !CloudEventChecks.isRfc3339(eventTime)) {
            errors.add(new FieldError(at + "/eventTime", "must be an RFC 3339 timestamp"));
        }
        String topic = CloudEventChecks.textOf(node, "topic");
        if (topic != null && !CloudEventChecks.isUriReference(topic)) {
            errors.add(new FieldError(at + "/topic", "must be a resource path (URI-reference)"));
        }
        if (!errors.isEmpty()) {
            return malformed(index, node, errors);
        }
        ObjectNode copy = ((ObjectNode) node).deepCopy();
        // The original recipe's test event has no dataVersion; Event Grid itself fills in an empty one.
        if (!copy.hasNonNull("dataVersion")) {
            copy.put("dataVersion", "");
        }
        if (!copy.has("data")) {
            copy.putNull("data");
        }
        try {
            EventGridEvent event = EventGridEvent.fromString(copy.toString()).get(0);
            return new IncomingEvent.Parsed(index, toCloudEvent(event, copy.get("data")));
        } catch (RuntimeException e) {
            return malformed(index, node, List.of(new FieldError(at.isEmpty() ? "/" : at,
                    "not a valid Event Grid event: " + rootMessage(e))));
        }
    }

    /**
     * Event Grid schema to CloudEvents, the way Event Grid maps them: {@code topic} becomes
     * {@code source}, {@code eventType} {@code type}, {@code eventTime} {@code time}; a {@code data}
     * sent as a JSON-encoded string is unwrapped.
     */
    private CloudEvent toCloudEvent(EventGridEvent event, JsonNode data) throws IllegalArgumentException {
        String source = event.getTopic() != null && !event.getTopic().isEmpty() ? event.getTopic()
                : config.eventGridDefaultSource();
        CloudEventBuilder builder = CloudEventBuilder.v1()
                .withId(event.getId())
                .withSource(URI.create(source))
                .withType(event.getEventType())
                .withSubject(event.getSubject());
        if (event.getEventTime() != null) {
            builder.withTime(event.getEventTime());
        }
        if (event.getDataVersion() != null && !event.getDataVersion().isEmpty()) {
            builder.withExtension("dataversion", event.getDataVersion());
        }
        JsonNode payload = data;
        if (data != null && data.isTextual()) {
            try {
                payload = mapper.readTree(data.textValue());
            } catch (IOException e) {
                payload = data; // a plain string stays a string
            }
        }
        if (payload != null && !payload.isNull()) {
            builder.withData("application/json", io.cloudevents.jackson.JsonCloudEventData.wrap(payload));
        }
        return builder.build();
    }

    // ---- shared ----------------------------------------------------------------------------------

    private JsonNode parse(byte[] body) {
        if (body.length == 0) {
            throw ProblemException.badRequest("The body is empty.", List.of());
        }
        StrictUtf8.requireJson(body);
        try {
            JsonNode tree = mapper.readTree(body);
            if (tree == null || tree.isMissingNode()) {
                throw ProblemException.badRequest("The body is empty.", List.of());
            }
            return tree;
        } catch (IOException e) {
            throw ProblemException.badRequest("The body is not valid JSON: " + rootMessage(e), List.of());
        }
    }

    private void checkBatchSize(JsonNode tree) {
        if (tree.isArray() && tree.size() > config.maxBatchEvents()) {
            throw ProblemException.tooLarge("A batch may hold at most " + config.maxBatchEvents() + " events.");
        }
        if (tree.isArray() && tree.isEmpty()) {
            throw ProblemException.badRequest("The batch holds no events.", List.of());
        }
    }

    /** Enforces the per-event size only when it can bite: an event can't be larger than its request. */
    private IncomingEvent oversized(JsonNode node, int bodyLength, IncomingEvent decoded) {
        if (bodyLength <= config.maxEventBytes()) {
            return decoded;
        }
        int size = node.toString().getBytes(StandardCharsets.UTF_8).length;
        if (size <= config.maxEventBytes()) {
            return decoded;
        }
        return malformed(decoded.index(), node, List.of(new FieldError("/" + decoded.index(),
                "the event is " + size + " bytes; at most " + config.maxEventBytes() + " are accepted")));
    }

    private IncomingEvent.Malformed malformed(int index, JsonNode node, List<FieldError> errors) {
        String id = node.isObject() ? CloudEventChecks.textOf(node, "id") : null;
        String source = node.isObject() ? first(CloudEventChecks.textOf(node, "source"), CloudEventChecks.textOf(node, "topic")) : null;
        String type = node.isObject() ? first(CloudEventChecks.textOf(node, "type"), CloudEventChecks.textOf(node, "eventType")) : null;
        String subject = node.isObject() ? CloudEventChecks.textOf(node, "subject") : null;
        JsonNode data = node.isObject() && node.path("data").isObject() ? node.get("data") : null;
        return new IncomingEvent.Malformed(index, id, source, type, subject,
                node.toString().getBytes(StandardCharsets.UTF_8), data, errors);
    }

    private static String first(String a, String b) {
        return a != null ? a : b;
    }

    /** The innermost message, without class names or stack: safe to show to the sender. */
    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
