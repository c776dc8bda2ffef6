package io.sandstream.edge;

import java.util.Locale;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

import io.sandstream.config.SandstreamConfig;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.RequestOptions;

/**
 * Relays one call to the instance that owns its session, streaming both ways: the request body is
 * piped to the owner as it arrives and the answer back as it comes (with backpressure each way),
 * so a large upload or download is never held whole in this instance. Headers go through as they
 * are (the caller's credential too: the owner checks the key as for any call), except the
 * hop-by-hop ones; the {@code Host} stays the caller's, so links the owner writes (an
 * {@code Operation-Location}) point where the caller called.
 */
final class OwnerProxy {

    /** RFC 9110 §7.6.1's connection-specific fields, and our own mark (set fresh for each hop). */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection", "te", "trailer",
            "transfer-encoding", "upgrade", "http2-settings", "proxy-authorization", "proxy-authenticate", HopToken.HEADER.toLowerCase(Locale.ROOT));

    /** What became of a relayed call. */
    enum Outcome {
        /** The owner's answer was relayed whole. */
        RELAYED,
        /** The owner could not be reached, or failed before it answered: nothing was written to the caller. */
        UNREACHABLE,
        /** The stream broke after the answer had started: the caller's connection was closed. */
        BROKEN
    }

    private final HttpClient client;
    private final SandstreamConfig.Cluster config;
    private final HopToken hop;

    OwnerProxy(Vertx vertx, SandstreamConfig.Cluster config, HopToken hop) {
        this.client = vertx.createHttpClient(new HttpClientOptions().setMaxPoolSize(64).setKeepAlive(true));
        this.config = config;
        this.hop = hop;
    }

    /** One relayed call in flight. */
    static final class Relay {
        private final AtomicBoolean answered = new AtomicBoolean();
        private volatile HttpClientRequest out;

        /**
         * Gives up on a call whose owner has not started to answer (it is UNREACHABLE then): a
         * pooled connection to a host that vanished gets no reset, so only the caller's side can
         * tell that the call will never be answered.
         */
        void abort() {
            HttpClientRequest sent = out;
            if (sent != null && !answered.get()) {
                sent.reset();
            }
        }
    }

    /** Relays {@code request} to {@code ownerUrl}; {@code done} gets the outcome (the caller is answered unless UNREACHABLE). */
    Relay relay(HttpServerRequest request, HttpServerResponse response, String ownerUrl, Consumer<Outcome> done) {
        return relay(request, request.uri(), null, response, ownerUrl, done);
    }

    /**
     * Relays {@code request} as {@code uri} (its own, or the same with a parameter added) with
     * {@code body} when it was read already (else the body streams from the request).
     */
    Relay relay(HttpServerRequest request, String uri, Buffer body, HttpServerResponse response, String ownerUrl,
            Consumer<Outcome> done) {
        Relay relay = new Relay();
        RequestOptions options = new RequestOptions().setMethod(request.method())
                .setAbsoluteURI(ownerUrl + uri)
                .setConnectTimeout(config.forwardConnectTimeout().toMillis())
                .setIdleTimeout(config.forwardIdleTimeout().toMillis());
        copy(request.headers(), options.getHeaders() == null ? setHeaders(options) : options.getHeaders());
        options.putHeader(HopToken.HEADER, hop.sign(request.method().name(), uri));
        if (body != null) {
            options.getHeaders().set(HttpHeaders.CONTENT_LENGTH, Integer.toString(body.length()));
        }
        boolean hasBody = request.headers().contains(HttpHeaders.CONTENT_LENGTH)
                || request.headers().contains(HttpHeaders.TRANSFER_ENCODING);
        client.request(options)
                .compose(out -> {
                    relay.out = out;
                    return body != null ? out.send(body) : hasBody ? out.send(request) : out.send();
                })
                .onFailure(failure -> done.accept(Outcome.UNREACHABLE))
                .onSuccess(answer -> {
                    relay.answered.set(true);
                    answer(answer, response, done);
                });
        return relay;
    }

    private static MultiMap setHeaders(RequestOptions options) {
        MultiMap headers = MultiMap.caseInsensitiveMultiMap();
        options.setHeaders(headers);
        return headers;
    }

    private static void answer(HttpClientResponse answer, HttpServerResponse response, Consumer<Outcome> done) {
        response.setStatusCode(answer.statusCode());
        copy(answer.headers(), response.headers());
        boolean noBody = answer.statusCode() == 204 || answer.statusCode() == 304;
        if (!noBody && !response.headers().contains(HttpHeaders.CONTENT_LENGTH)) {
            response.setChunked(true);
        }
        Future<Void> piped = answer.pipeTo(response);
        piped.onSuccess(ignored -> done.accept(Outcome.RELAYED)).onFailure(failure -> {
            response.reset();
            done.accept(Outcome.BROKEN);
        });
    }

    private static void copy(MultiMap from, MultiMap to) {
        from.forEach(header -> {
            if (!HOP_BY_HOP.contains(header.getKey().toLowerCase(Locale.ROOT))) {
                to.add(header.getKey(), header.getValue());
            }
        });
    }
}
