package io.sandstream.outbound;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;

import jakarta.enterprise.context.ApplicationScoped;

import io.cloudevents.CloudEvent;
import io.sandstream.config.SandstreamConfig.Sink;
import io.smallrye.mutiny.Uni;

/**
 * One HTTP attempt to hand an event to a sink, in the shape its kind wants. The JDK client is
 * asynchronous (no thread waits on a slow receiver) and never follows redirects, so a receiver
 * cannot send sandstream to an address nobody configured.
 */
@ApplicationScoped
public class SinkClient {

    static final String CE_JSON = "application/cloudevents+json; charset=utf-8";
    static final String CE_BATCH = "application/cloudevents-batch+json; charset=utf-8";
    /** What the Event Grid publisher SDKs send when the configured topic URL names no version. */
    static final String EVENT_GRID_API_VERSION = "2018-01-01";

    private final ResultEvents events;
    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();

    public SinkClient(ResultEvents events) {
        this.events = events;
    }

    /** The URL a sink's events go to: the configured one, plus {@code api-version} for an Event Grid topic without it. */
    static URI target(Sink sink) {
        URI url = URI.create(sink.url());
        if (!"http".equalsIgnoreCase(url.getScheme()) && !"https".equalsIgnoreCase(url.getScheme())) {
            throw new IllegalArgumentException("must be an http or https URL");
        }
        if (sink.kind() == Sink.Kind.EVENTGRID && (url.getRawQuery() == null || !url.getRawQuery().contains("api-version="))) {
            String query = url.getRawQuery() == null ? "" : url.getRawQuery() + "&";
            return URI.create(sink.url().split("\\?", 2)[0] + "?" + query + "api-version=" + EVENT_GRID_API_VERSION);
        }
        return url;
    }

    /**
     * The POST of {@code event} to a sink, in the shape its kind wants. Built once per event and
     * sent again as is on every retry.
     */
    public HttpRequest request(Sink sink, URI target, CloudEvent event) {
        HttpRequest.Builder request = HttpRequest.newBuilder(target).timeout(sink.timeout());
        if (sink.kind() == Sink.Kind.EVENTGRID) {
            request.header("Content-Type", CE_BATCH)
                    .header("aeg-sas-key", sink.key().orElseThrow())
                    .POST(HttpRequest.BodyPublishers.ofByteArray(events.batch(List.of(event))));
        } else if (sink.mode() == Sink.Mode.BINARY) {
            binaryHeaders(event).forEach(request::header);
            request.header("Content-Type", event.getDataContentType())
                    .POST(HttpRequest.BodyPublishers.ofByteArray(events.data(event)));
        } else {
            request.header("Content-Type", CE_JSON)
                    .POST(HttpRequest.BodyPublishers.ofByteArray(events.structured(event)));
        }
        return request.build();
    }

    /** One attempt: completes with the status on a 2xx, fails with a {@link DeliveryException} otherwise. */
    public Uni<Integer> send(HttpRequest request, Duration timeout) {
        // The request timeout covers connecting and the response head; the Uni's also covers a body
        // that trickles in. Cancelling the Uni cancels the exchange.
        return Uni.createFrom().completionStage(() -> http.sendAsync(request, HttpResponse.BodyHandlers.discarding()))
                .ifNoItem().after(timeout).failWith(() -> new DeliveryException("timed out", true))
                .onFailure(failure -> !(failure instanceof DeliveryException)).transform(SinkClient::classify)
                .map(HttpResponse::statusCode)
                .invoke(status -> {
                    if (status / 100 != 2) {
                        throw DeliveryException.status(status);
                    }
                });
    }

    /** The CloudEvents HTTP binding's {@code ce-*} headers, values percent-encoded where the binding requires it. */
    static Map<String, String> binaryHeaders(CloudEvent event) {
        Map<String, String> headers = new java.util.LinkedHashMap<>();
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

    /** Transport failures are worth retrying; the cause's class and message say what it was (no payload in them). */
    private static Throwable classify(Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof java.net.http.HttpTimeoutException) {
            return new DeliveryException("timed out", true);
        }
        if (cause instanceof IOException) {
            return new DeliveryException(cause.getClass().getSimpleName()
                    + (cause.getMessage() == null ? "" : ": " + cause.getMessage()), true);
        }
        return cause;
    }
}
