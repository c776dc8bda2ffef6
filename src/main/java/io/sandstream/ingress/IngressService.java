package io.sandstream.ingress;

import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.journal.Journal;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalFullException;
import io.sandstream.problem.Problem;
import io.sandstream.problem.ProblemException;
import io.sandstream.routing.Drain;
import io.sandstream.telemetry.ExecutionTracing;
import io.sandstream.telemetry.IngressTrace;
import io.sandstream.tenancy.KeyScope;
import io.smallrye.mutiny.Uni;

/**
 * Admits the events of one request and records them: every accepted event is durably journalled
 * before the answer, invalid events in a batch are journalled as rejected, and the journal's
 * capacity bounds what can be waiting.
 */
@ApplicationScoped
public class IngressService {

    private static final Logger LOG = Logger.getLogger(IngressService.class);

    private final EventAdmission admission;
    private final Journal journal;
    private final SandstreamConfig.Journal journalConfig;
    private final Map<Endpoint, Map<String, Counter>> received = new EnumMap<>(Endpoint.class);
    private final ExecutionTracing tracing;
    private final Drain drain;

    public IngressService(EventAdmission admission, Journal journal, SandstreamConfig config, MeterRegistry registry,
            ExecutionTracing tracing, Drain drain) {
        this.admission = admission;
        this.drain = drain;
        this.journal = journal;
        this.tracing = tracing;
        this.journalConfig = config.journal();
        for (Endpoint endpoint : Endpoint.values()) {
            received.put(endpoint, Map.of(
                    "accepted", counter(registry, endpoint, "accepted"),
                    "duplicate", counter(registry, endpoint, "duplicate"),
                    "rejected", counter(registry, endpoint, "rejected")));
        }
    }

    /** Where work was submitted: the two doors into the same pipeline. */
    public enum Endpoint {
        /** {@code POST /events}: CloudEvents and Event Grid deliveries. */
        EVENTS("events", "The event is not a valid execute event: "),
        /** {@code POST /executions}: code submitted directly with an API key. */
        EXECUTIONS("executions", "The request is not valid: "),
        /** The MCP server's {@code run_code} tool: code sent by an agent with an API key. */
        MCP("mcp", "The request is not valid: ");

        private final String tag;
        private final String invalid;

        Endpoint(String tag, String invalid) {
            this.tag = tag;
            this.invalid = invalid;
        }
    }

    private static Counter counter(MeterRegistry registry, Endpoint endpoint, String outcome) {
        return Counter.builder("sandstream.events.received").tag("endpoint", endpoint.tag).tag("outcome", outcome)
                .description("Work received on POST /events, POST /executions and the MCP server, by outcome").register(registry);
    }

    /**
     * Admits and journals the events delivered under {@code scope}; fails with a
     * {@link ProblemException} for 400/403/429/503.
     */
    public Uni<IngressResponse> ingest(DecodedRequest.Events request, KeyScope scope, Endpoint endpoint) {
        if (drain.active()) {
            throw ProblemException.unavailable("This instance is shutting down; nothing was accepted. Retry: another "
                    + "instance takes it.", journalConfig.retryAfterSeconds());
        }
        Map<String, Counter> received = this.received.get(endpoint);
        Instant now = Instant.now();
        IngressTrace trace = tracing.receive(request.events().stream()
                .map(event -> event instanceof IncomingEvent.Parsed parsed ? parsed.event() : null).toList());
        List<EventAdmission.Admitted> admitted = new ArrayList<>(request.events().size());
        for (IncomingEvent event : request.events()) {
            EventAdmission.Admitted verdict = admission.admit(event, request.batch(), now, scope);
            trace.execution(admitted.size(), verdict.entry().executionId());
            admitted.add(verdict);
        }
        if (!request.batch() && !admitted.get(0).queued()) {
            received.get("rejected").increment();
            trace.outcome(0, "rejected");
            trace.end(null);
            String summary = EventAdmission.summary(admitted.get(0).errors());
            if (admitted.get(0).forbidden()) {
                throw new ProblemException(Problem.of(403, "forbidden-subject", "Subject outside the key's scope",
                        "The ingress key may not send this event: " + summary).withErrors(admitted.get(0).errors()));
            }
            throw ProblemException.badRequest(endpoint.invalid + summary, admitted.get(0).errors());
        }
        List<JournalEntry> entries = admitted.stream().filter(a -> !a.forbidden()).map(EventAdmission.Admitted::entry)
                .toList();
        trace.journalling();
        return journal.append(entries)
                .onFailure().invoke(trace::end)
                .onFailure().transform(failure -> {
                    if (failure instanceof JournalFullException full) {
                        return ProblemException.tooManyRequests(full.getMessage() + "; nothing was accepted, retry later.",
                                journalConfig.retryAfterSeconds());
                    }
                    LOG.error("journal append failed", failure);
                    return ProblemException.unavailable("The journal could not record the events; nothing was accepted.",
                            journalConfig.retryAfterSeconds());
                })
                .map(duplicates -> respond(admitted, duplicates, trace, received));
    }

    private static IngressResponse respond(List<EventAdmission.Admitted> admitted, List<Boolean> duplicates,
            IngressTrace trace, Map<String, Counter> received) {
        List<IngressResponse.Accepted> accepted = new ArrayList<>();
        List<IngressResponse.Rejected> rejected = new ArrayList<>();
        int appended = 0;
        for (int i = 0; i < admitted.size(); i++) {
            EventAdmission.Admitted a = admitted.get(i);
            JournalEntry e = a.entry();
            boolean duplicate = !a.forbidden() && duplicates.get(appended++);
            if (a.queued()) {
                received.get(duplicate ? "duplicate" : "accepted").increment();
                trace.outcome(i, duplicate ? "duplicate" : "accepted");
                accepted.add(new IngressResponse.Accepted(e.eventId(), e.source(), e.executionId(), duplicate));
            } else {
                received.get("rejected").increment();
                trace.outcome(i, "rejected");
                rejected.add(new IngressResponse.Rejected(e.eventId(), e.source(), e.executionId(),
                        EventAdmission.summary(a.errors()), a.errors()));
            }
        }
        trace.end(null);
        return new IngressResponse(accepted, rejected);
    }
}
