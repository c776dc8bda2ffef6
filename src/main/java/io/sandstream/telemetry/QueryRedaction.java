package io.sandstream.telemetry;

import java.util.Set;

import jakarta.inject.Singleton;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.ReadWriteSpan;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SpanProcessor;

/**
 * Keeps credentials out of exported traces: the HTTP server spans record the query string
 * ({@code url.query}), and an ingress key may travel there as {@code ?code=}. Every parameter value
 * is replaced except those of the few parameters known to carry nothing secret.
 */
@Singleton
public class QueryRedaction implements SpanProcessor {

    static final AttributeKey<String> URL_QUERY = AttributeKey.stringKey("url.query");
    static final String REDACTED = "REDACTED";
    private static final Set<String> HARMLESS = Set.of("api-version", "identifier", "wait", "subject", "status");

    @Override
    public void onStart(Context parentContext, ReadWriteSpan span) {
        String query = span.getAttribute(URL_QUERY);
        if (query != null && !query.isEmpty()) {
            span.setAttribute(URL_QUERY, redact(query));
        }
    }

    static String redact(String query) {
        StringBuilder out = new StringBuilder(query.length());
        for (String parameter : query.split("&", -1)) {
            if (!out.isEmpty()) {
                out.append('&');
            }
            int equals = parameter.indexOf('=');
            String name = equals < 0 ? parameter : parameter.substring(0, equals);
            out.append(name);
            if (equals >= 0) {
                out.append('=').append(HARMLESS.contains(name) ? parameter.substring(equals + 1) : REDACTED);
            }
        }
        return out.toString();
    }

    @Override
    public boolean isStartRequired() {
        return true;
    }

    @Override
    public void onEnd(ReadableSpan span) {
        // nothing: redacted when it started
    }

    @Override
    public boolean isEndRequired() {
        return false;
    }
}
