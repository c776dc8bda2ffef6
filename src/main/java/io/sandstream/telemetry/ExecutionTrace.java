package io.sandstream.telemetry;

import java.time.Duration;
import java.time.Instant;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.ResultDocument;
import io.sandstream.sessions.ExecutionResult;

/**
 * The dispatch stages of one execution, each a span under the context the event continues. At
 * most one stage is open at a time; starting the next ends it. Called from the dispatcher thread
 * and from the threads that complete its work, hence synchronized.
 */
final class ExecutionTrace {

    static final AttributeKey<String> EXECUTION_ID = AttributeKey.stringKey("sandstream.execution_id");
    static final AttributeKey<Long> ATTEMPT = AttributeKey.longKey("sandstream.attempt");
    static final AttributeKey<String> POOL = AttributeKey.stringKey("sandstream.pool");
    static final AttributeKey<String> LANE = AttributeKey.stringKey("sandstream.lane");
    static final AttributeKey<Long> QUEUE_WAIT_MS = AttributeKey.longKey("sandstream.queue_wait_ms");
    static final AttributeKey<String> ALLOCATION = AttributeKey.stringKey("sandstream.allocation");
    static final AttributeKey<String> STATUS = AttributeKey.stringKey("sandstream.status");
    static final AttributeKey<String> LIMIT_HIT = AttributeKey.stringKey("sandstream.limit_hit");
    static final AttributeKey<Boolean> TRUNCATED = AttributeKey.booleanKey("sandstream.truncated");
    static final AttributeKey<Long> EXECUTION_MS = AttributeKey.longKey("sandstream.execution_ms");
    static final AttributeKey<String> ERROR_TYPE = AttributeKey.stringKey("error.type");

    private final Tracer tracer;
    /** What every stage continues; when the event carried no context, the first stage's span becomes it. */
    private Context parent;
    private final String executionId;
    private final long attempt;
    private Span stage;
    /** The open stage is an allocation no backend update has ended yet. */
    private boolean allocating;
    private Span persist;
    private Instant routedAt;

    ExecutionTrace(Tracer tracer, Context parent, String executionId, long attempt) {
        this.tracer = tracer;
        this.parent = parent;
        this.executionId = executionId;
        this.attempt = attempt;
    }

    synchronized void route() {
        routedAt = Instant.now();
        open("sandstream.route");
    }

    synchronized void queued(String pool, String lane) {
        if (stage != null) {
            stage.setAttribute(POOL, pool);
            stage.setAttribute(LANE, lane);
        }
    }

    synchronized void started() {
        if (stage != null && routedAt != null) {
            stage.setAttribute(QUEUE_WAIT_MS, Duration.between(routedAt, Instant.now()).toMillis());
        }
        close(null);
    }

    synchronized void allocating() {
        open("sandstream.allocate");
        allocating = true;
    }

    synchronized void allocated(String kind) {
        if (stage != null) {
            stage.setAttribute(ALLOCATION, kind);
        }
        open("sandstream.execute");
    }

    synchronized void executed(ExecutionResult result) {
        if (stage == null) {
            return;
        }
        if (allocating) {
            // A backend that does not say when it has a session: one span for allocation and execution.
            stage.updateName("sandstream.execute");
            stage.setAttribute(ALLOCATION, "implicit");
        }
        stage.setAttribute(STATUS, result.status().name());
        stage.setAttribute(EXECUTION_MS, result.executionMs());
        stage.setAttribute(TRUNCATED, result.truncated());
        if (result.limitHit() != null) {
            stage.setAttribute(LIMIT_HIT, result.limitHit().name());
        }
        close(null);
    }

    synchronized void failed(Throwable failure) {
        close(failure);
    }

    synchronized void persisting(ResultDocument document) {
        if (stage != null && document.status() != ExecutionStatus.Succeeded && document.error() != null) {
            // An open stage here is where the execution was given up (route or allocate).
            stage.setStatus(StatusCode.ERROR, document.error().type());
        }
        close(null);
        persist = start("sandstream.persist", SpanKind.INTERNAL, parent);
        persist.setAttribute(STATUS, document.status().name());
        if (document.error() != null) {
            persist.setAttribute(ERROR_TYPE, document.error().type());
        }
    }

    /** The publish span is a child of persist: publishing happens between storing and finishing the entry. */
    void publishing(Runnable publish) {
        Span span;
        synchronized (this) {
            span = start("sandstream.publish", SpanKind.PRODUCER, persist == null ? parent : parent.with(persist));
        }
        try (Scope ignored = span.makeCurrent()) {
            publish.run();
        } catch (RuntimeException e) {
            span.setStatus(StatusCode.ERROR, e.getClass().getSimpleName());
            throw e;
        } finally {
            span.end();
        }
    }

    synchronized void finished(Throwable failure) {
        close(failure);
        if (persist != null) {
            if (failure != null) {
                persist.setStatus(StatusCode.ERROR, failure.getClass().getSimpleName());
            }
            persist.end();
            persist = null;
        }
    }

    synchronized void abandon(String why) {
        if (stage != null) {
            stage.setStatus(StatusCode.ERROR, why);
        }
        close(null);
    }

    private void open(String name) {
        close(null);
        stage = start(name, SpanKind.INTERNAL, parent);
    }

    private Span start(String name, SpanKind kind, Context parentContext) {
        Span span = tracer.spanBuilder(name).setParent(parentContext).setSpanKind(kind)
                .setAttribute(EXECUTION_ID, executionId).setAttribute(ATTEMPT, attempt).startSpan();
        if (!ExecutionTracing.valid(parent)) {
            parent = Context.root().with(span); // one trace for all the stages, not one each
        }
        return span;
    }

    /** Ends the open stage; a failure names only its type (its message may quote what the code did). */
    private void close(Throwable failure) {
        if (stage == null) {
            return;
        }
        if (failure != null) {
            stage.setStatus(StatusCode.ERROR, failure.getClass().getSimpleName());
            stage.setAttribute(ERROR_TYPE, failure.getClass().getName());
        }
        stage.end();
        stage = null;
        allocating = false;
    }
}
