package io.sandstream.telemetry;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;
import io.opentelemetry.context.propagation.TextMapPropagator;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalRecord;
import io.sandstream.model.ResultDocument;
import io.sandstream.sessions.ExecutionResult;

/**
 * The trace of every execution, one span per stage: {@code sandstream.receive} (with
 * {@code sandstream.journal} inside) when it arrives, then {@code sandstream.route},
 * {@code sandstream.allocate}, {@code sandstream.execute}, {@code sandstream.persist} and
 * {@code sandstream.publish} when the dispatcher runs it, which may be much later or after a
 * restart, and {@code sandstream.deliver} for each delivery of its result event to a sink. All of them continue one context: the event's own distributed-tracing extension
 * ({@code traceparent}/{@code tracestate}), else the HTTP request's (itself continued from the
 * {@code traceparent} header). The journalled event carries that context as its extension (added
 * when the sender sent none, as the CloudEvents spec lets a middleware do), which is how the trace
 * survives the journal.
 *
 * <p>Spans carry identifiers, sizes, statuses and timings, never code, output or keys.
 */
@ApplicationScoped
public class ExecutionTracing {

    static final String SCOPE = "io.sandstream";
    private static final TextMapPropagator W3C = W3CTraceContextPropagator.getInstance();
    private static final JsonFactory JSON = new JsonFactory();
    private static final TextMapGetter<CloudEvent> EXTENSIONS = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(CloudEvent event) {
            return event.getExtensionNames();
        }

        @Override
        public String get(CloudEvent event, String key) {
            return event == null ? null : Objects.toString(event.getExtension(key), null);
        }
    };
    private static final TextMapGetter<Map<String, String>> MAP = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, String> carrier) {
            return carrier.keySet();
        }

        @Override
        public String get(Map<String, String> carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };

    private static final AttributeKey<String> SINK = AttributeKey.stringKey("sandstream.sink");
    private static final AttributeKey<Long> HTTP_STATUS = AttributeKey.longKey("http.response.status_code");

    private final Tracer tracer;
    /** Executions from the dispatcher taking them to their result being stored. */
    private final Map<String, ExecutionTrace> executions = new ConcurrentHashMap<>();

    @Inject
    public ExecutionTracing(OpenTelemetry openTelemetry) {
        this.tracer = openTelemetry.getTracer(SCOPE);
    }

    /** Tracing that records nothing but still carries incoming contexts along, for stages built without Quarkus. */
    public static ExecutionTracing disabled() {
        return new ExecutionTracing(OpenTelemetry.noop());
    }

    // ---- ingress ------------------------------------------------------------------------------------

    /** The context an event continues: its own extension when it is valid, else the current (HTTP) one. */
    public Context parentOf(CloudEvent event) {
        Context own = event == null ? Context.root() : W3C.extract(Context.root(), event, EXTENSIONS);
        return valid(own) ? own : Context.current();
    }

    /**
     * {@code event} as it is journalled: carrying the context it continues as its extension. An
     * event with a valid one of its own is left as it is.
     */
    public CloudEvent carrying(CloudEvent event) {
        if (valid(W3C.extract(Context.root(), event, EXTENSIONS))) {
            return event;
        }
        Context current = Context.current();
        if (!valid(current)) {
            return event;
        }
        CloudEventBuilder builder = CloudEventBuilder.from(event).withoutExtension(TraceContext.TRACESTATE);
        W3C.inject(current, builder, (b, key, value) -> b.withExtension(key, value));
        return builder.build();
    }

    /** Starts the receive spans of a request's events (null for one that could not be parsed). */
    public IngressTrace receive(List<CloudEvent> events) {
        return new IngressTrace(tracer, this, events);
    }

    // ---- dispatch -----------------------------------------------------------------------------------

    /**
     * The dispatcher has taken an execution from the journal: its trace starts over (a previous one
     * of the same execution, queued before the journal was followed again, is dropped), with a route
     * span unless it is a rejected event, which only gets its result stored.
     */
    public void begin(JournalRecord record) {
        JournalEntry entry = record.entry();
        ExecutionTrace trace = new ExecutionTrace(tracer, contextOf(entry.event()), entry.executionId(), record.attempt() + 1);
        ExecutionTrace previous = executions.put(entry.executionId(), trace);
        if (previous != null) {
            previous.abandon("queued again");
        }
        if (entry.state() != JournalEntry.State.REJECTED) {
            trace.route();
        }
    }

    /** Where the route stage put it: the pool and the lane. */
    public void queued(String executionId, String pool, String lane) {
        with(executionId, trace -> trace.queued(pool, lane));
    }

    /** It leaves its lane and starts: the route stage ends. */
    public void started(String executionId) {
        with(executionId, ExecutionTrace::started);
    }

    /** An attempt to get a session for it begins (again, after a transient backend failure). */
    public void allocating(String executionId) {
        with(executionId, ExecutionTrace::allocating);
    }

    /** It has its sandbox: {@code warm}, {@code cold} or {@code session} (the session's own). */
    public void allocated(String executionId, String kind) {
        with(executionId, trace -> trace.allocated(kind));
    }

    public void executed(String executionId, ExecutionResult result) {
        with(executionId, trace -> trace.executed(result));
    }

    /** The backend failed this attempt (the open stage ends in error; it may be retried). */
    public void failed(String executionId, Throwable failure) {
        with(executionId, trace -> trace.failed(failure));
    }

    /** Its result is being stored. */
    public void persisting(ResultDocument document) {
        with(document.executionId(), trace -> trace.persisting(document));
    }

    /**
     * Runs {@code publish} inside the publish span, which is current meanwhile: what the outbound
     * sinks take from it continues this trace.
     */
    public void publishing(String executionId, Runnable publish) {
        ExecutionTrace trace = executions.get(executionId);
        if (trace == null) {
            publish.run();
        } else {
            trace.publishing(publish);
        }
    }

    /** Its result is stored and its journal entry finished ({@code failure} null), or it stays journalled. */
    public void finished(String executionId, Throwable failure) {
        ExecutionTrace trace = executions.remove(executionId);
        if (trace != null) {
            trace.finished(failure);
        }
    }

    private void with(String executionId, java.util.function.Consumer<ExecutionTrace> step) {
        ExecutionTrace trace = executions.get(executionId);
        if (trace != null) {
            step.accept(trace);
        }
    }

    // ---- outbound -----------------------------------------------------------------------------------

    /** Starts the span of one delivery of a result event to a sink, under the publication that queued it. */
    public Span delivering(String sink, Context publication) {
        return tracer.spanBuilder("sandstream.deliver").setParent(publication == null ? Context.root() : publication)
                .setSpanKind(SpanKind.CLIENT).setAttribute(SINK, sink).startSpan();
    }

    /** Ends a delivery span: the receiver's status, or the failure's type (a message could name the URL). */
    public static void delivered(Span span, Integer status, Throwable failure) {
        if (status != null) {
            span.setAttribute(HTTP_STATUS, status.longValue());
        }
        if (failure != null) {
            span.setStatus(StatusCode.ERROR, failure.getClass().getSimpleName());
        }
        span.end();
    }

    // ---- contexts -----------------------------------------------------------------------------------

    /** The context of a trace context in wire form (root when it is absent or invalid). */
    public static Context contextOf(TraceContext trace) {
        if (trace == null) {
            return Context.root();
        }
        Map<String, String> carrier = trace.tracestate() == null ? Map.of(TraceContext.TRACEPARENT, trace.traceparent())
                : Map.of(TraceContext.TRACEPARENT, trace.traceparent(), TraceContext.TRACESTATE, trace.tracestate());
        return W3C.extract(Context.root(), carrier, MAP);
    }

    /**
     * The context a journalled event (CloudEvents structured JSON) carries. Reads only its top-level
     * attributes: the SDK writes {@code data} last, so the code is never scanned.
     */
    static Context contextOf(byte[] event) {
        if (event == null) {
            return Context.root();
        }
        String traceparent = null;
        String tracestate = null;
        try (JsonParser parser = JSON.createParser(event)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return Context.root();
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                JsonToken value = parser.nextToken();
                if (name.equals("data") || name.equals("data_base64")) {
                    break;
                }
                if (name.equals(TraceContext.TRACEPARENT) && value == JsonToken.VALUE_STRING) {
                    traceparent = parser.getText();
                } else if (name.equals(TraceContext.TRACESTATE) && value == JsonToken.VALUE_STRING) {
                    tracestate = parser.getText();
                } else {
                    parser.skipChildren();
                }
            }
        } catch (IOException | RuntimeException e) {
            // a raw rejected body, not a CloudEvent: it continues nothing
        }
        return traceparent == null ? Context.root() : contextOf(new TraceContext(traceparent, tracestate));
    }

    static boolean valid(Context context) {
        return Span.fromContext(context).getSpanContext().isValid();
    }
}
