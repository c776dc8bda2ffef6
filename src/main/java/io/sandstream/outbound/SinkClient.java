package io.sandstream.outbound;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.cloudevents.CloudEvent;
import io.sandstream.config.SandstreamConfig.Sink;
import io.sandstream.telemetry.TraceContext;
import io.smallrye.mutiny.Uni;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.tracing.TracingPolicy;
import io.vertx.mutiny.core.Vertx;
import io.vertx.mutiny.core.buffer.Buffer;
import io.vertx.mutiny.core.http.HttpClient;
import io.vertx.mutiny.core.http.HttpClientRequest;

/**
 * The HTTP side of one sink: its own Vert.x client (a connection pool as large as the sink's
 * concurrency) on Quarkus' event loops, so no thread waits for a slow receiver. Redirects are
 * never followed: only the configured URL is ever called.
 */
final class SinkClient {

    static final String CE_JSON = "application/cloudevents+json; charset=utf-8";
    static final String CE_BATCH = "application/cloudevents-batch+json; charset=utf-8";
    /** What the Event Grid publisher SDKs send when the configured topic URL names no version. */
    static final String EVENT_GRID_API_VERSION = "2018-01-01";

    /** A POST ready to send, reused as is by every retry. */
    record Prepared(RequestOptions options, byte[] body) {
    }

    private final Sink sink;
    private final URI target;
    private final ResultEvents events;
    private final HttpClient http;

    SinkClient(Vertx vertx, ResultEvents events, Sink sink) {
        this.sink = sink;
        this.target = target(sink);
        this.events = events;
        // Trace headers are set per request (see prepare), not by the client's instrumentation.
        this.http = vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true).setTracingPolicy(TracingPolicy.IGNORE)
                .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, sink.timeout().toMillis())),
                new PoolOptions().setHttp1MaxSize(sink.inFlight()));
    }

    /** The URL a sink's events go to: the configured one, plus {@code api-version} for an Event Grid topic without it. */
    static URI target(Sink sink) {
        URI url = URI.create(sink.url().orElseThrow(() -> new IllegalArgumentException("is required")));
        if (!"http".equalsIgnoreCase(url.getScheme()) && !"https".equalsIgnoreCase(url.getScheme())
                || url.getHost() == null) {
            throw new IllegalArgumentException("must be an absolute http or https URL");
        }
        if (sink.kind() == Sink.Kind.EVENTGRID && (url.getRawQuery() == null || !url.getRawQuery().contains("api-version="))) {
            String query = url.getRawQuery() == null ? "" : url.getRawQuery() + "&";
            return URI.create(sink.url().get().split("\\?", 2)[0] + "?" + query + "api-version=" + EVENT_GRID_API_VERSION);
        }
        return url;
    }

    /**
     * The POST of {@code event} in the shape the sink's kind and mode want, with {@code hop} (the delivery's span) as its W3C trace headers.
     * Those are set here rather than by the HTTP client's instrumentation, which would start its
     * span on an event loop that knows nothing of this delivery.
     */
    Prepared prepare(CloudEvent event, TraceContext hop) {
        RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(target.toString())
                .setFollowRedirects(false)
                // No byte for this long (connected, waiting for the answer): the attempt fails.
                .setIdleTimeout(sink.timeout().toMillis());
        if (hop != null) {
            options.putHeader(TraceContext.TRACEPARENT, hop.traceparent());
            if (hop.tracestate() != null) {
                options.putHeader(TraceContext.TRACESTATE, hop.tracestate());
            }
        }
        byte[] body;
        if (sink.kind() == Sink.Kind.EVENTGRID) {
            options.putHeader("Content-Type", CE_BATCH).putHeader("aeg-sas-key", sink.key().orElseThrow());
            body = events.batch(List.of(event));
        } else if (sink.mode() == Sink.Mode.BINARY) {
            binaryHeaders(event).forEach(options::putHeader);
            options.putHeader("Content-Type", event.getDataContentType());
            body = events.data(event);
        } else {
            options.putHeader("Content-Type", CE_JSON);
            body = events.structured(event);
        }
        return new Prepared(options, body);
    }

    /**
     * One attempt: completes with the status on a 2xx, fails with a {@link DeliveryException}
     * otherwise. The whole exchange is bounded by the sink's timeout (a receiver that trickles
     * bytes outlives the idle timeout); the response body is discarded unread.
     */
    Uni<Integer> send(Prepared prepared) {
        return http.request(prepared.options())
                .flatMap(request -> exchange(request, prepared.body()))
                .ifNoItem().after(sink.timeout()).failWith(() -> new DeliveryException("timed out", true))
                .onFailure(failure -> !(failure instanceof DeliveryException)).transform(SinkClient::classify)
                .invoke(status -> {
                    if (status / 100 != 2) {
                        throw DeliveryException.status(status);
                    }
                });
    }

    private static Uni<Integer> exchange(HttpClientRequest request, byte[] body) {
        return request.send(Buffer.buffer(body))
                .flatMap(response -> response.end().replaceWith(response.statusCode()))
                // Given up on (timeout, shutdown): close the connection rather than leave it to the receiver.
                .onCancellation().invoke(() -> request.reset());
    }

    Uni<Void> close() {
        return http.close();
    }

    /** The CloudEvents HTTP binding's {@code ce-*} headers, values percent-encoded where the binding requires it. */
    static Map<String, String> binaryHeaders(CloudEvent event) {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("ce-specversion", event.getSpecVersion().toString());
        headers.put("ce-id", encode(event.getId()));
        headers.put("ce-source", encode(event.getSource().toString()));
        headers.put("ce-type", encode(event.getType()));
        if (event.getSubject() != null) {
            headers.put("ce-subject", encode(event.getSubject()));
        }
        if (event.getTime() != null) {
            headers.put("ce-time", encode(event.getTime().toString()));
        }
        for (String name : event.getExtensionNames()) {
            headers.put("ce-" + name, encode(String.valueOf(event.getExtension(name))));
        }
        return headers;
    }

    /** Percent-encodes what may not stand in a header value: controls, space, '"', '%' and non-ASCII (as UTF-8). */
    static String encode(String value) {
        StringBuilder out = new StringBuilder(value.length());
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if (c <= 0x20 || c >= 0x7f || c == '"' || c == '%') {
                out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
            } else {
                out.append((char) c);
            }
        }
        return out.toString();
    }

    /**
     * Whatever fails below the HTTP status (refused, reset, DNS, TLS, idle timeout, pool closed)
     * may pass: retried. The reason is the failure's class and message, which carry no payload.
     */
    private static Throwable classify(Throwable failure) {
        return new DeliveryException(failure.getClass().getSimpleName()
                + (failure.getMessage() == null ? "" : ": " + failure.getMessage()), true);
    }
}
