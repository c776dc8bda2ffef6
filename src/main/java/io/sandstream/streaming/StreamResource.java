package io.sandstream.streaming;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;

import io.sandstream.journal.Journal;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.ResultDocument;
import io.sandstream.problem.Problem;
import io.sandstream.problem.ProblemException;
import io.sandstream.results.ExecutionLookup;
import io.sandstream.results.ResultBus;
import io.sandstream.results.ResultStore;
import io.sandstream.results.StoredResult;
import io.sandstream.security.ApiKeys;
import io.sandstream.sessions.ExecutionUpdate;
import io.sandstream.tenancy.KeyScope;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.Cancellable;
import io.smallrye.mutiny.subscription.MultiEmitter;

/**
 * Reading executions back (API.md §2): one execution's result or status, its server-sent events as
 * it runs, and every result as it is persisted.
 */
@Path("/executions")
public class StreamResource {

    static final Duration HEARTBEAT = Duration.ofSeconds(15);
    private static final Duration LOOKUP = Duration.ofSeconds(10);
    /** Without Last-Event-ID the stream starts with what is persisted from now on. */
    private static final long NO_REPLAY = -1;

    private final ApiKeys keys;
    private final ResultStore store;
    private final Journal journal;
    private final ResultBus bus;
    private final SseSubscribers subscribers;
    private final ExecutionLookup lookup;

    public StreamResource(ApiKeys keys, ResultStore store, Journal journal, ResultBus bus, SseSubscribers subscribers,
            ExecutionLookup lookup) {
        this.keys = keys;
        this.lookup = lookup;
        this.subscribers = subscribers;
        this.store = store;
        this.journal = journal;
        this.bus = bus;
    }

    /** The execution's result once it has one, else its status ({@code Queued} or {@code Running}). */
    @GET
    @Path("/{executionId}")
    @Produces(MediaType.APPLICATION_JSON)
    public Uni<Response> get(@PathParam("executionId") String executionId, @HeaderParam("Authorization") String authorization) {
        KeyScope scope = keys.require(authorization);
        return lookup.find(executionId, scope).map(found -> {
            ExecutionLookup.Visible visible = found.orElseThrow(() -> notFound(executionId));
            return visible.result().map(Response::ok)
                    .orElseGet(() -> Response.ok(Map.of("executionId", executionId, "status", visible.status()))).build();
        });
    }

    /**
     * {@code status} events, live {@code stdout}/{@code stderr} chunks, then one {@code result}; then
     * the stream ends. Runs on a worker thread: the execution is looked up before the stream starts,
     * so an unknown or foreign one is a plain 404.
     */
    @GET
    @Path("/{executionId}/events")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @Blocking
    public Multi<OutboundSseEvent> execution(@PathParam("executionId") String executionId,
            @HeaderParam("Authorization") String authorization, @Context Sse sse) {
        KeyScope scope = keys.require(authorization);
        if (lookup.find(executionId, scope).await().atMost(LOOKUP).isEmpty()) {
            throw notFound(executionId);
        }
        return subscribers.execution(Multi.createFrom().emitter(emitter -> {
            AtomicBoolean done = new AtomicBoolean();
            // Subscribe to live events first, then look again: nothing can fall in between.
            Cancellable live = bus.outputs().filter(o -> o.executionId().equals(executionId))
                    .subscribe().with(o -> {
                        if (!done.get()) {
                            emitter.emit(o.output() == null ? status(sse, o.status()) : chunk(sse, o.output()));
                        }
                    });
            // Run on another instance, the result may overtake its last chunks: they come first, as here.
            Cancellable result = bus.results().filter(r -> r.document().executionId().equals(executionId))
                    .subscribe().with(r -> bus.liveComplete(executionId).subscribe()
                            .with(ignored -> finish(emitter, done, sse, r)));
            emitter.onTermination(() -> {
                live.cancel();
                result.cancel();
            });
            store.get(executionId).subscribe().with(now -> {
                if (now.isPresent()) {
                    finish(emitter, done, sse, now.get());
                    return;
                }
                journal.load(executionId).subscribe().with(record -> {
                    if (record.isPresent() && !done.get()) {
                        emitter.emit(status(sse, record.get().entry().state().pendingStatus()));
                    }
                }, emitter::fail);
            }, emitter::fail);
        }));
    }

    /**
     * Every result as it is persisted, filtered by subject prefix (within the key's scope) and
     * status; {@code Last-Event-ID} replays what the client missed; a comment every 15 s keeps
     * proxies from closing the stream.
     */
    @GET
    @Path("/stream")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    public Multi<OutboundSseEvent> stream(@QueryParam("subject") String subject, @QueryParam("status") String status,
            @HeaderParam("Last-Event-ID") String lastEventId, @HeaderParam("Authorization") String authorization,
            @Context Sse sse) {
        KeyScope scope = keys.require(authorization);
        long after = parseLastEventId(lastEventId);
        Predicate<ResultDocument> wanted = doc -> scope.covers(doc.subject())
                && (subject == null || (doc.subject() != null && doc.subject().startsWith(subject)))
                && (status == null || doc.status().isNamed(status));
        Multi<OutboundSseEvent> results = replayThenLive(after)
                .filter(r -> wanted.test(r.document()))
                .map(r -> sse.newEventBuilder().name("result").id(Long.toString(r.sequence()))
                        .mediaType(MediaType.APPLICATION_JSON_TYPE).data(ResultDocument.class, r.document()).build());
        Multi<OutboundSseEvent> heartbeats = Multi.createFrom().ticks().every(HEARTBEAT)
                .map(tick -> sse.newEventBuilder().comment("heartbeat").build());
        return subscribers.results(Multi.createBy().merging().streams(results, heartbeats));
    }

    /**
     * Stored results after {@code after} (from now on without it), then each new one, in sequence
     * order, without gaps or repeats: the bus only signals, the store is read (see {@link StoreTail}).
     */
    private Multi<StoredResult> replayThenLive(long after) {
        return Multi.createFrom().emitter(emitter -> {
            StoreTail tail = new StoreTail(store, emitter);
            // Subscribed before the start is known: what is stored meanwhile is read once it is.
            Cancellable live = bus.results().subscribe().with(stored -> tail.signal());
            emitter.onTermination(live::cancel);
            Uni<Long> start = after == NO_REPLAY ? store.latest() : Uni.createFrom().item(after);
            start.subscribe().with(tail::startAfter, emitter::fail);
        });
    }

    private static long parseLastEventId(String value) {
        if (value == null || value.isBlank()) {
            return NO_REPLAY;
        }
        try {
            return Math.max(0, Long.parseLong(value.trim()));
        } catch (NumberFormatException e) {
            throw ProblemException.badRequest("Last-Event-ID must be an id this stream sent.", java.util.List.of());
        }
    }

    private static void finish(MultiEmitter<? super OutboundSseEvent> emitter, AtomicBoolean done, Sse sse,
            StoredResult result) {
        if (done.compareAndSet(false, true)) {
            emitter.emit(sse.newEventBuilder().name("result").id(Long.toString(result.sequence()))
                    .mediaType(MediaType.APPLICATION_JSON_TYPE).data(ResultDocument.class, result.document()).build());
            emitter.complete();
        }
    }

    private static OutboundSseEvent status(Sse sse, ExecutionStatus status) {
        return sse.newEventBuilder().name("status").mediaType(MediaType.APPLICATION_JSON_TYPE)
                .data(Map.class, Map.of("status", status)).build();
    }

    private static OutboundSseEvent chunk(Sse sse, ExecutionUpdate.Output output) {
        return sse.newEventBuilder().name(output.stream() == ExecutionUpdate.Stream.STDOUT ? "stdout" : "stderr")
                .mediaType(MediaType.APPLICATION_JSON_TYPE)
                .data(Map.class, Map.of("text", new String(output.bytes(), StandardCharsets.UTF_8))).build();
    }

    private static ProblemException notFound(String executionId) {
        return new ProblemException(Problem.of(404, "not-found", "Not found",
                "No execution " + executionId + " visible to this key."));
    }
}
