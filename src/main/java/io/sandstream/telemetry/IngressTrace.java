package io.sandstream.telemetry;

import java.util.List;

import io.cloudevents.CloudEvent;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;

/**
 * The receive span of each event of one request, and inside it the journal span of the commit
 * that records it. An event that continues a context of its own (its {@code traceparent}
 * extension) links to the HTTP request that brought it.
 */
public final class IngressTrace {

    static final AttributeKey<String> EVENT_ID = AttributeKey.stringKey("cloudevents.event_id");
    static final AttributeKey<String> EVENT_SOURCE = AttributeKey.stringKey("cloudevents.event_source");
    static final AttributeKey<String> EVENT_TYPE = AttributeKey.stringKey("cloudevents.event_type");
    static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("sandstream.outcome");

    private final Tracer tracer;
    private final Span[] receive;
    private final Span[] journal;

    IngressTrace(Tracer tracer, ExecutionTracing tracing, List<CloudEvent> events) {
        this.tracer = tracer;
        this.receive = new Span[events.size()];
        this.journal = new Span[events.size()];
        Context current = Context.current();
        for (int i = 0; i < receive.length; i++) {
            CloudEvent event = events.get(i);
            Context parent = tracing.parentOf(event);
            SpanBuilder span = tracer.spanBuilder("sandstream.receive").setParent(parent).setSpanKind(SpanKind.CONSUMER);
            if (parent != current && ExecutionTracing.valid(current)) {
                span.addLink(Span.fromContext(current).getSpanContext());
            }
            if (event != null) {
                span.setAttribute(EVENT_ID, event.getId()).setAttribute(EVENT_SOURCE, event.getSource().toString())
                        .setAttribute(EVENT_TYPE, event.getType());
            }
            receive[i] = span.startSpan();
        }
    }

    /** The execution the event became. */
    public void execution(int index, String executionId) {
        receive[index].setAttribute(ExecutionTrace.EXECUTION_ID, executionId);
    }

    /** The events go to the journal now. */
    public void journalling() {
        for (int i = 0; i < receive.length; i++) {
            journal[i] = tracer.spanBuilder("sandstream.journal").setParent(Context.root().with(receive[i]))
                    .setSpanKind(SpanKind.INTERNAL).startSpan();
        }
    }

    /** {@code accepted}, {@code duplicate} or {@code rejected}: the same outcomes as the events-received counter. */
    public void outcome(int index, String outcome) {
        receive[index].setAttribute(OUTCOME, outcome);
    }

    /** Ends every span; {@code failure} (the request was refused: 400, 429, 503) marks them failed. */
    public void end(Throwable failure) {
        for (int i = 0; i < receive.length; i++) {
            if (failure != null) {
                String type = failure.getClass().getSimpleName();
                receive[i].setStatus(StatusCode.ERROR, type);
                if (journal[i] != null) {
                    journal[i].setStatus(StatusCode.ERROR, type);
                }
            }
            if (journal[i] != null) {
                journal[i].end();
            }
            receive[i].end();
        }
    }
}
