package io.sandstream.results;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.cloudevents.jackson.JsonCloudEventData;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.ingress.EventAdmission;
import io.sandstream.ingress.IncomingEvent;
import io.sandstream.journal.Journal;
import io.sandstream.journal.JournalFullException;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.problem.Problem;
import io.sandstream.problem.ProblemException;
import io.sandstream.routing.Dispatcher;
import io.sandstream.security.RateLimits;
import io.sandstream.streaming.ResultBus;
import io.sandstream.telemetry.ExecutionTracing;
import io.sandstream.telemetry.IngressTrace;
import io.sandstream.validation.StrictUtf8;
import io.smallrye.mutiny.Uni;

/** {@code /executions}: submit code directly (same pipeline as events) and read results. */
@Path("/executions")
@Produces(MediaType.APPLICATION_JSON)
public class ExecutionsResource {

    static final String SOURCE = "/executions";
    private static final int MAX_WAIT_SECONDS = 220;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ApiKeys keys;
    private final EventAdmission admission;
    private final Journal journal;
    private final ResultStore store;
    private final ResultBus bus;
    private final SandstreamConfig.Journal journalConfig;
    private final ExecutionTracing tracing;
    private final RateLimits limits;

    public ExecutionsResource(ApiKeys keys, EventAdmission admission, Journal journal, ResultStore store, ResultBus bus,
            SandstreamConfig config, ExecutionTracing tracing, RateLimits limits) {
        this.limits = limits;
        this.keys = keys;
        this.tracing = tracing;
        this.admission = admission;
        this.journal = journal;
        this.store = store;
        this.bus = bus;
        this.journalConfig = config.journal();
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Response> submit(byte[] bytes, @HeaderParam("Authorization") String authorization,
            @QueryParam("wait") Integer wait) {
        KeyScope scope = keys.require(authorization);
        limits.admitSubmission(authorization);
        if (wait != null && (wait < 0 || wait > MAX_WAIT_SECONDS)) {
            throw ProblemException.badRequest("wait must be 0 to " + MAX_WAIT_SECONDS + " seconds.",
                    List.of(new Problem.FieldError("/wait", "must be 0 to " + MAX_WAIT_SECONDS)));
        }
        JsonNode body = json(bytes);
        if (body == null || !body.isObject()) {
            throw ProblemException.badRequest("The body must be a JSON object with at least 'code'.",
                    List.of(new Problem.FieldError("", "must be a JSON object")));
        }
        ObjectNode data = ((ObjectNode) body).deepCopy();
        JsonNode subjectNode = data.remove("subject");
        String subject = subjectNode != null && subjectNode.isTextual() ? subjectNode.textValue() : scope.defaultSubject();
        if (!scope.covers(subject)) {
            throw new ProblemException(Problem.of(403, "forbidden-subject", "Subject outside the key's scope",
                    "This API key may not submit work under subject '" + subject + "'."));
        }
        CloudEventBuilder event = CloudEventBuilder.v1().withId(UUID.randomUUID().toString()).withSource(URI.create(SOURCE))
                .withType("io.sandstream.code.execute").withData("application/json", JsonCloudEventData.wrap(data));
        if (subject != null) {
            event.withSubject(subject);
        }
        CloudEvent built = event.build();
        IngressTrace trace = tracing.receive(List.of(built));
        EventAdmission.Admitted admitted = admission.admit(new IncomingEvent.Parsed(0, built), false, Instant.now(), scope);
        trace.execution(0, admitted.entry().executionId());
        if (!admitted.queued()) {
            trace.outcome(0, "rejected");
            trace.end(null);
            throw ProblemException.badRequest("The request is not valid: " + EventAdmission.summary(admitted.errors()),
                    admitted.errors());
        }
        String executionId = admitted.entry().executionId();
        Uni<StoredResult> waiter = wait != null && wait > 0 ? bus.next(executionId, Duration.ofSeconds(wait)) : null;
        trace.journalling();
        return journal.append(List.of(admitted.entry()))
                .onItemOrFailure().invoke((duplicates, failure) -> {
                    if (duplicates != null) {
                        trace.outcome(0, duplicates.get(0) ? "duplicate" : "accepted");
                    }
                    trace.end(failure);
                })
                .onFailure(JournalFullException.class).transform(full -> ProblemException.tooManyRequests(
                        full.getMessage() + "; retry later.", journalConfig.retryAfterSeconds()))
                .flatMap(ignored -> waiter == null ? Uni.createFrom().nullItem() : waiter)
                .map(result -> result != null ? Response.ok(result.document()).build()
                        : Response.accepted(Map.of("executionId", executionId, "status", "Queued"))
                                .location(URI.create("/executions/" + executionId)).build());
    }

    @GET
    @Path("/{executionId}")
    public Uni<Response> get(@PathParam("executionId") String executionId, @HeaderParam("Authorization") String authorization) {
        KeyScope scope = keys.require(authorization);
        return store.get(executionId).flatMap(stored -> {
            if (stored.isPresent()) {
                ResultDocument doc = stored.get().document();
                return Uni.createFrom().item(scope.covers(doc.subject()) ? Response.ok(doc).build() : notFound(executionId));
            }
            return journal.load(executionId).map(record -> record
                    .filter(r -> scope.covers(r.entry().subject()))
                    .map(r -> Response.ok(Map.of("executionId", executionId,
                            "status", Dispatcher.statusOf(r.entry().state()))).build())
                    .orElseGet(() -> notFound(executionId)));
        });
    }

    private static Response notFound(String executionId) {
        return Response.status(404).type(Problem.MEDIA_TYPE)
                .entity(Problem.of(404, "not-found", "Not found", "No execution " + executionId + " visible to this key."))
                .build();
    }

    /** The body as JSON, read only once it is known to be valid UTF-8; null when there is none. */
    private static JsonNode json(byte[] body) {
        if (body == null || body.length == 0) {
            return null;
        }
        StrictUtf8.requireJson(body);
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new ProblemException(Problem.of(400, "malformed-json", "Malformed JSON", "The body is not valid JSON."));
        }
    }
}
