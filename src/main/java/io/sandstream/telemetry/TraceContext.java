package io.sandstream.telemetry;

import java.util.HashMap;
import java.util.Map;

import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;

/**
 * A W3C trace context in its wire form, as the CloudEvents distributed-tracing extension carries
 * it: {@code traceparent} and, when there is one, {@code tracestate}.
 */
public record TraceContext(String traceparent, String tracestate) {

    public static final String TRACEPARENT = "traceparent";
    public static final String TRACESTATE = "tracestate";

    /** The context of {@code context}'s span; null when it has no valid one. */
    public static TraceContext of(Context context) {
        if (context == null) {
            return null;
        }
        Map<String, String> carrier = new HashMap<>(2);
        W3CTraceContextPropagator.getInstance().inject(context, carrier, Map::put);
        String traceparent = carrier.get(TRACEPARENT);
        return traceparent == null ? null : new TraceContext(traceparent, carrier.get(TRACESTATE));
    }
}
