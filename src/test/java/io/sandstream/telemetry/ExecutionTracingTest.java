package io.sandstream.telemetry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.cloudevents.jackson.JsonFormat;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.Scope;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.sandstream.journal.JournalEntry;
import io.sandstream.journal.JournalRecord;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.model.ResultDocument;
import io.sandstream.model.Tenant;
import io.sandstream.sessions.ExecutionResult;

/**
 * The stage spans and the trace context that survives the journal, on a real OpenTelemetry SDK
 * with an in-memory exporter. The dispatcher side reads nothing but the journalled bytes, exactly
 * what a restarted service has.
 */
class ExecutionTracingTest {

    static final String TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
    static final String PARENT = "00f067aa0ba902b7";
    static final String TRACEPARENT = "00-" + TRACE_ID + "-" + PARENT + "-01";

    final InMemorySpanExporter spans = InMemorySpanExporter.create();
    final SdkTracerProvider provider = SdkTracerProvider.builder()
            .addSpanProcessor(SimpleSpanProcessor.create(spans)).build();
    final ExecutionTracing tracing = new ExecutionTracing(OpenTelemetrySdk.builder().setTracerProvider(provider).build());
    final JsonFormat format = new JsonFormat();

    @AfterEach
    void close() {
        provider.close();
    }

    static CloudEventBuilder event() {
        return CloudEventBuilder.v1().withId("1").withSource(URI.create("/tests")).withType("io.sandstream.code.execute")
                .withData("application/json", "{\"code\":\"print('not read')\"}".getBytes(StandardCharsets.UTF_8));
    }

    static JournalRecord record(byte[] event, JournalEntry.State state, int attempt) {
        return new JournalRecord(1, new JournalEntry("exec-1", "1", "/tests", "io.sandstream.code.execute", null, null,
                Priority.NORMAL, state, Instant.now(), event, null, Tenant.SHARED), attempt);
    }

    static ResultDocument document(ExecutionStatus status) {
        return ResultDocument.builder().executionId("exec-1").event("1", "/tests", null, "io.sandstream.code.execute")
                .language(Language.PYTHON).priority(Priority.NORMAL).backend("local").status(status).attempt(1).build();
    }

    /** Runs every dispatch stage of exec-1 as the dispatcher does. */
    void dispatch(JournalRecord record) {
        tracing.begin(record);
        tracing.queued("exec-1", "python", "normal");
        tracing.started("exec-1");
        tracing.allocating("exec-1");
        tracing.allocated("exec-1", "warm");
        tracing.executed("exec-1", new ExecutionResult(ExecutionResult.Status.Succeeded, "", "", null, null, null, false,
                null, false, Instant.now(), Instant.now(), 3));
        tracing.persisting(document(ExecutionStatus.Succeeded));
        tracing.publishing("exec-1", () -> { });
        tracing.finished("exec-1", null);
    }

    Map<String, SpanData> byName() {
        return spans.getFinishedSpanItems().stream().collect(Collectors.toMap(SpanData::getName, s -> s));
    }

    @Test
    void anExecutionDispatchedFromTheJournalContinuesTheEventsTrace() {
        byte[] journalled = format.serialize(event().withExtension("traceparent", TRACEPARENT)
                .withExtension("tracestate", "vendor=1").build());
        dispatch(record(journalled, JournalEntry.State.QUEUED, 1));

        Map<String, SpanData> stages = byName();
        assertEquals(List.of("sandstream.allocate", "sandstream.execute", "sandstream.persist", "sandstream.publish",
                "sandstream.route"), stages.keySet().stream().sorted().toList());
        stages.values().forEach(s -> assertEquals(TRACE_ID, s.getTraceId(), s.getName()));
        for (String stage : List.of("sandstream.route", "sandstream.allocate", "sandstream.execute", "sandstream.persist")) {
            assertEquals(PARENT, stages.get(stage).getParentSpanId(), stage);
            assertEquals("1", stages.get(stage).getSpanContext().getTraceState().get("vendor"));
        }
        assertEquals(stages.get("sandstream.persist").getSpanId(), stages.get("sandstream.publish").getParentSpanId());
        assertEquals("python", stages.get("sandstream.route").getAttributes().get(ExecutionTrace.POOL));
        assertEquals("warm", stages.get("sandstream.allocate").getAttributes().get(ExecutionTrace.ALLOCATION));
        assertEquals("Succeeded", stages.get("sandstream.execute").getAttributes().get(ExecutionTrace.STATUS));
        assertEquals(2L, stages.get("sandstream.route").getAttributes().get(ExecutionTrace.ATTEMPT));
    }

    @Test
    void aBackendThatDoesNotSayWhenItHasASessionGetsOneExecuteSpan() {
        tracing.begin(record(format.serialize(event().build()), JournalEntry.State.QUEUED, 0));
        tracing.started("exec-1");
        tracing.allocating("exec-1");
        tracing.executed("exec-1", new ExecutionResult(ExecutionResult.Status.Failed, "", "", null, "ValueError", null,
                false, null, false, Instant.now(), Instant.now(), 3));
        SpanData execute = byName().get("sandstream.execute");
        assertEquals("implicit", execute.getAttributes().get(ExecutionTrace.ALLOCATION));
        assertEquals("Failed", execute.getAttributes().get(ExecutionTrace.STATUS));
        assertNull(byName().get("sandstream.allocate"));
    }

    @Test
    void anEventWithoutContextGetsOneTraceForAllItsStages() {
        dispatch(record(format.serialize(event().build()), JournalEntry.State.QUEUED, 0));
        List<SpanData> finished = spans.getFinishedSpanItems();
        assertEquals(5, finished.size());
        assertEquals(1, finished.stream().map(SpanData::getTraceId).distinct().count(), finished.toString());
    }

    @Test
    void aRejectedEventOnlyPersistsAndPublishes() {
        byte[] raw = "{\"id\":\"1\",\"traceparent\":\"".concat(TRACEPARENT).concat("\",\"data\":7}").getBytes(StandardCharsets.UTF_8);
        tracing.begin(record(raw, JournalEntry.State.REJECTED, 0));
        tracing.persisting(document(ExecutionStatus.Rejected));
        tracing.publishing("exec-1", () -> { });
        tracing.finished("exec-1", null);
        assertEquals(List.of("sandstream.persist", "sandstream.publish"), byName().keySet().stream().sorted().toList());
        assertEquals(PARENT, byName().get("sandstream.persist").getParentSpanId());
    }

    @Test
    void whatIsPublishedSeesThePublishSpanAsCurrent() {
        tracing.begin(record(format.serialize(event().withExtension("traceparent", TRACEPARENT).build()),
                JournalEntry.State.QUEUED, 0));
        tracing.persisting(document(ExecutionStatus.Succeeded));
        TraceContext[] seen = new TraceContext[1];
        tracing.publishing("exec-1", () -> seen[0] = TraceContext.of(Context.current()));
        tracing.finished("exec-1", null);
        SpanData publish = byName().get("sandstream.publish");
        assertEquals("00-" + TRACE_ID + "-" + publish.getSpanId() + "-01", seen[0].traceparent());
    }

    @Test
    void theJournalledEventCarriesTheRequestsContextWhenItHasNone() {
        CloudEvent bare = event().build();
        assertSame(bare, tracing.carrying(bare), "nothing to carry outside a trace");
        Span request = provider.get("test").spanBuilder("POST /events").startSpan();
        try (Scope ignored = request.makeCurrent()) {
            CloudEvent carried = tracing.carrying(bare);
            assertEquals("00-" + request.getSpanContext().getTraceId() + "-" + request.getSpanContext().getSpanId() + "-01",
                    carried.getExtension("traceparent"));
            assertEquals(bare.getData(), carried.getData());
            CloudEvent own = event().withExtension("traceparent", TRACEPARENT).build();
            assertSame(own, tracing.carrying(own), "an event's own context is kept");
            CloudEvent broken = event().withExtension("traceparent", "garbage").withExtension("tracestate", "x=1").build();
            CloudEvent mended = tracing.carrying(broken);
            assertTrue(mended.getExtension("traceparent").toString().contains(request.getSpanContext().getTraceId()));
            assertNull(mended.getExtension("tracestate"), "a state belongs to the traceparent it came with");
        } finally {
            request.end();
        }
    }

    @Test
    void receiveSpansContinueTheEventAndLinkTheRequest() {
        Span request = provider.get("test").spanBuilder("POST /events").startSpan();
        try (Scope ignored = request.makeCurrent()) {
            IngressTrace trace = tracing.receive(java.util.Arrays.asList(
                    event().withExtension("traceparent", TRACEPARENT).build(), null));
            trace.execution(0, "exec-1");
            trace.journalling();
            trace.outcome(0, "accepted");
            trace.outcome(1, "rejected");
            trace.end(null);
        } finally {
            request.end();
        }
        List<SpanData> receive = spans.getFinishedSpanItems().stream()
                .filter(s -> s.getName().equals("sandstream.receive")).toList();
        assertEquals(2, receive.size());
        SpanData own = receive.stream().filter(s -> s.getTraceId().equals(TRACE_ID)).findFirst().orElseThrow();
        assertEquals(PARENT, own.getParentSpanId());
        assertEquals(request.getSpanContext().getSpanId(), own.getLinks().get(0).getSpanContext().getSpanId());
        assertEquals("accepted", own.getAttributes().get(IngressTrace.OUTCOME));
        SpanData malformed = receive.stream().filter(s -> !s.getTraceId().equals(TRACE_ID)).findFirst().orElseThrow();
        assertEquals(request.getSpanContext().getSpanId(), malformed.getParentSpanId());
        SpanData journal = spans.getFinishedSpanItems().stream()
                .filter(s -> s.getName().equals("sandstream.journal") && s.getTraceId().equals(TRACE_ID)).findFirst().orElseThrow();
        assertEquals(own.getSpanId(), journal.getParentSpanId());
    }

    @Test
    void queriesAreRedactedButForHarmlessParameters() {
        assertEquals("code=REDACTED&api-version=2018-01-01&flag", QueryRedaction.redact("code=abc&api-version=2018-01-01&flag"));
        assertEquals("identifier=user-1&token=REDACTED", QueryRedaction.redact("identifier=user-1&token=t0ps3cret"));
    }
}
