package io.sandstream.ingress;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import jakarta.enterprise.context.ApplicationScoped;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.cloudevents.CloudEvent;
import io.cloudevents.jackson.JsonFormat;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.journal.JournalEntry;
import io.sandstream.model.ExecuteRequest;
import io.sandstream.model.ExecutionIds;
import io.sandstream.model.Priority;
import io.sandstream.model.Tenant;
import io.sandstream.problem.Problem.FieldError;
import io.sandstream.problem.Problem;
import io.sandstream.routing.RoutingRules;
import io.sandstream.telemetry.ExecutionTracing;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.tenancy.TenantPrefixes;
import io.sandstream.validation.ExecuteEvents;
import io.sandstream.validation.ExecuteRequestValidator;

/**
 * Decides what becomes of each decoded event: a queued execution, or a rejection that is recorded
 * all the same. Produces the journal entry either way.
 */
@ApplicationScoped
public class EventAdmission {

    private final ExecuteRequestValidator validator;
    private final ExecuteEvents events;
    private final RoutingRules rules;
    private final List<String> acceptedTypes;
    private final ObjectMapper mapper = new ObjectMapper();
    private final JsonFormat format = new JsonFormat();
    private final ExecutionTracing tracing;
    private final TenantPrefixes tenants;

    public EventAdmission(ExecuteRequestValidator validator, ExecuteEvents events, RoutingRules rules, SandstreamConfig config,
            ExecutionTracing tracing, TenantPrefixes tenants) {
        this.validator = validator;
        this.events = events;
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
        JsonNode data = events.dataOf(event, at, errors);
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
                event.getType(), event.getSubject(), request.sessionId().orElse(null), priority,
                JournalEntry.State.QUEUED, now, serialized, null, tenant);
        return new Admitted(parsed, entry, List.of(), false);
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
