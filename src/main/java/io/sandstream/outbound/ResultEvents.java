package io.sandstream.outbound;

import java.net.URI;
import java.net.URISyntaxException;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.List;

import jakarta.enterprise.context.ApplicationScoped;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.cloudevents.jackson.JsonCloudEventData;
import io.cloudevents.jackson.JsonFormat;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.ResultDocument;
import io.sandstream.telemetry.TraceContext;

/**
 * The one definition of the outbound event (API.md §4): a result as the CloudEvent
 * {@code io.sandstream.code.executed}, and its JSON forms. Every sink encodes what this builds.
 */
@ApplicationScoped
public class ResultEvents {

    public static final String TYPE = "io.sandstream.code.executed";
    /** Extension attribute carrying the execution, for receivers that filter or correlate on it. */
    public static final String EXECUTION_ID = "executionid";
    static final String JSON = "application/json";

    private static final ObjectMapper MAPPER = new ObjectMapper().registerModule(JsonFormat.getCloudEventJacksonModule());
    private static final JsonFormat FORMAT = new JsonFormat();

    private final URI defaultSource;

    public ResultEvents(SandstreamConfig config) {
        this.defaultSource = URI.create(config.outbound().defaultSource());
    }

    /**
     * The event of one result. Its {@code id} is the execution id, so a result published twice (a
     * redelivery after a crash) is the same event and receivers can drop the repeat by
     * ({@code source}, {@code id}).
     */
    public CloudEvent of(ResultDocument document) {
        return of(document, null);
    }

    /**
     * The event of one result, carrying the trace it belongs to as the CloudEvents
     * distributed-tracing extension ({@code traceparent}, {@code tracestate}) when {@code trace} is
     * not null, so a receiver continues the trace of the execution.
     */
    public CloudEvent of(ResultDocument document, TraceContext trace) {
        CloudEventBuilder builder = CloudEventBuilder.v1()
                .withId(document.executionId())
                .withType(TYPE)
                .withSource(sourceOf(document))
                .withDataContentType(JSON)
                .withData(JsonCloudEventData.wrap(MAPPER.valueToTree(document)))
                .withExtension(EXECUTION_ID, document.executionId());
        if (document.subject() != null && !document.subject().isEmpty()) {
            builder.withSubject(document.subject());
        }
        OffsetDateTime completedAt = completedAt(document);
        if (completedAt != null) {
            builder.withTime(completedAt);
        }
        if (trace != null) {
            builder.withExtension(TraceContext.TRACEPARENT, trace.traceparent());
            if (trace.tracestate() != null) {
                builder.withExtension(TraceContext.TRACESTATE, trace.tracestate());
            }
        }
        return builder.build();
    }

    /** Structured mode: {@code application/cloudevents+json}. */
    public byte[] structured(CloudEvent event) {
        return FORMAT.serialize(event);
    }

    /** A batch ({@code application/cloudevents-batch+json}), what an Event Grid topic takes. */
    public byte[] batch(List<CloudEvent> events) {
        try {
            return MAPPER.writeValueAsBytes(events);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a CloudEvent could not be serialized", e);
        }
    }

    /** The bare {@code data} (the result document), for binary mode. */
    public byte[] data(CloudEvent event) {
        return event.getData() == null ? new byte[0] : event.getData().toBytes();
    }

    /**
     * The result's own source when it is a URI reference; a malformed event rejected in a batch may
     * carry none or garbage, and a CloudEvent must still have one.
     */
    private URI sourceOf(ResultDocument document) {
        String source = document.source();
        if (source == null || source.isEmpty()) {
            return defaultSource;
        }
        try {
            return new URI(source);
        } catch (URISyntaxException e) {
            return defaultSource;
        }
    }

    private static OffsetDateTime completedAt(ResultDocument document) {
        if (document.timings() == null || document.timings().completedAt() == null) {
            return null;
        }
        try {
            return OffsetDateTime.parse(document.timings().completedAt());
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
