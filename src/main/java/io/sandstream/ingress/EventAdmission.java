package io.sandstream.ingress;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;

import jakarta.enterprise.context.ApplicationScoped;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.cloudevents.CloudEvent;
import io.cloudevents.CloudEventData;
import io.cloudevents.jackson.JsonCloudEventData;
import io.cloudevents.jackson.JsonFormat;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.journal.ExecutionIds;
import io.sandstream.journal.JournalEntry;
import io.sandstream.problem.Problem;
import io.sandstream.problem.Problem.FieldError;
import io.sandstream.routing.Priority;
import io.sandstream.routing.RoutingRules;
import io.sandstream.telemetry.ExecutionTracing;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.tenancy.Tenant;
import io.sandstream.tenancy.TenantPrefixes;
import io.sandstream.validation.ExecuteRequest;
import io.sandstream.validation.ExecuteRequestValidator;

/**
 * Decides what becomes of each decoded event: a queued execution, or a rejection that is recorded
 * all the same. Produces the journal entry either way.
 */
@ApplicationScoped
public class EventAdmission {

    private final ExecuteRequestValidator validator;
    private final RoutingRules rules;
    private final List<String> acceptedTypes;
    private final ObjectMapper mapper = new ObjectMapper();
    private final JsonFormat format = new JsonFormat();
    private final ExecutionTracing tracing;
    private final TenantPrefixes tenants;

    public EventAdmission(ExecuteRequestValidator validator, RoutingRules rules, SandstreamConfig config,
            ExecutionTracing tracing, TenantPrefixes tenants) {
        this.validator = validator;
        this.tenants = tenants;
        this.rules = rules;
        this.tracing = tracing;
        this.acceptedTypes = List.copyOf(config.ingress().acceptedTypes());
    }

    /**
     * The verdict on one event. {@code errors} is empty when it was queued. An event whose subject
     * is outside the delivering key's scope is {@code forbidden}: refused, and not journalled, so a
     * forged subject leaves no trace in the tenant it names.
     */
    public record Admitted(IncomingEvent event, JournalEntry entry, List<FieldError> errors, boolean forbidden) {
        public boolean queued() {
            return errors.isEmpty();
        }
    }

    /** The verdict on an event delivered under {@code scope}, the delivering key's. */
    public Admitted admit(IncomingEvent incoming, boolean batch, Instant now, KeyScope scope) {
        String at = batch ? "/" + incoming.index() : "";
        String subject = incoming instanceof IncomingEvent.Parsed parsed ? parsed.event().getSubject()
                : ((IncomingEvent.Malformed) incoming).subject();
        if (!scope.covers(subject)) {
            return forbidden(incoming, at, subject, now);
        }
        Tenant tenant = scope.tenantFor(subject, tenants);
        if (incoming instanceof IncomingEvent.Malformed m) {
            List<FieldError> errors = new ArrayList<>(m.errors());
            if (m.data() != null) {
                errors.addAll(validator.validate(m.data(), at + "/data").errors());
            }
            return rejected(m, m.id(), m.source(), m.type(), m.subject(), m.raw(), errors, now, tenant);
        }
        return admitParsed((IncomingEvent.Parsed) incoming, at, now, tenant);
    }

    private Admitted admitParsed(IncomingEvent.Parsed parsed, String at, Instant now, Tenant tenant) {
        CloudEvent event = parsed.event();
        String source = event.getSource().toString();
        List<FieldError> errors = new ArrayList<>();
        if (!acceptedTypes.contains(event.getType())) {
            errors.add(new FieldError(at + "/type", "'" + event.getType() + "' is not an execute event type; accepted: "
                    + String.join(", ", acceptedTypes)));
        }
        Optional<Priority> extensionPriority = Optional.empty();
        Object priorityAttribute = event.getExtension("priority");
        if (priorityAttribute != null) {
            extensionPriority = Priority.parse(priorityAttribute.toString());
            if (extensionPriority.isEmpty()) {
                errors.add(new FieldError(at + "/priority", "must be 'high', 'normal' or 'low'"));
            }
        }
        ExecuteRequest request = null;
        JsonNode data = dataOf(event, at, errors);
        if (data != null) {
            ExecuteRequestValidator.Result result = validator.validate(data, at + "/data");
            errors.addAll(result.errors());
            request = result.request();
        } else if (errors.stream().noneMatch(e -> e.pointer().startsWith(at + "/data"))) {
            errors.add(new FieldError(at + "/data", "is required: an object with at least 'code'"));
        }
        // The journalled event carries the trace it continues, so its execution joins that trace later.
        byte[] serialized = format.serialize(tracing.carrying(event));
        if (!errors.isEmpty()) {
            return rejected(parsed, event.getId(), source, event.getType(), event.getSubject(), serialized, errors, now,
                    tenant);
        }
        // The priority attribute, then data.priority, then the routing rules, then normal.
        Priority priority = extensionPriority.or(request::priority)
                .or(() -> rules.priority(event.getType(), event.getSubject())).orElse(Priority.NORMAL);
        JournalEntry entry = new JournalEntry(ExecutionIds.of(source, event.getId()), event.getId(), source,
                event.getType(), event.getSubject(), request.sessionId().orElse(null), priority.wireName(),
                JournalEntry.State.QUEUED, now, serialized, null, tenant);
        return new Admitted(parsed, entry, List.of(), false);
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
    private JsonNode dataOf(CloudEvent event, String at, List<FieldError> errors) {
        CloudEventData data = event.getData();
        if (data == null) {
            return null;
        }
        if (data instanceof JsonCloudEventData json) {
            return json.getNode();
        }
        String contentType = event.getDataContentType() == null ? "application/json"
                : EventDecoder.mediaType(event.getDataContentType());
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

    private Admitted rejected(IncomingEvent incoming, String id, String source, String type, String subject, byte[] raw,
            List<FieldError> errors, Instant now, Tenant tenant) {
        String executionId = executionIdOf(id, source);
        Problem problem = Problem.of(400, "invalid-event", "Invalid event", summary(errors)).withErrors(errors);
        String rejection;
        try {
            rejection = mapper.writeValueAsString(problem);
        } catch (IOException e) {
            rejection = summary(errors);
        }
        JournalEntry entry = new JournalEntry(executionId, id, source, type, subject, null, null,
                JournalEntry.State.REJECTED, now, raw, rejection, tenant);
        return new Admitted(incoming, entry, errors, false);
    }

    private static String executionIdOf(String id, String source) {
        return id != null && !id.isEmpty() && source != null && !source.isEmpty()
                ? ExecutionIds.of(source, id)
                : UUID.randomUUID().toString(); // nothing to deduplicate on: record it on its own
    }

    /** An event whose subject its key may not send: refused, never journalled (see {@link Admitted}). */
    private static Admitted forbidden(IncomingEvent incoming, String at, String subject, Instant now) {
        String id = incoming instanceof IncomingEvent.Parsed p ? p.event().getId() : ((IncomingEvent.Malformed) incoming).id();
        String source = incoming instanceof IncomingEvent.Parsed p ? p.event().getSource().toString()
                : ((IncomingEvent.Malformed) incoming).source();
        List<FieldError> errors = List.of(new FieldError(at + "/subject", subject == null
                ? "is required: the ingress key is scoped to a tenant's subjects"
                : "'" + subject + "' is outside the subjects this ingress key may send"));
        JournalEntry entry = new JournalEntry(executionIdOf(id, source), id, source, null, subject, null, null,
                JournalEntry.State.REJECTED, now, null, null, Tenant.SHARED);
        return new Admitted(incoming, entry, errors, true);
    }

    public static String summary(List<FieldError> errors) {
        StringBuilder text = new StringBuilder();
        for (FieldError e : errors) {
            if (!text.isEmpty()) {
                text.append("; ");
            }
            text.append(e.pointer().isEmpty() ? "event" : e.pointer()).append(": ").append(e.detail());
        }
        return text.toString();
    }
}
