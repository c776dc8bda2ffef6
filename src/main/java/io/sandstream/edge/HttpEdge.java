package io.sandstream.edge;

import java.lang.reflect.Field;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiConsumer;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.ObservesAsync;

import org.jboss.logging.Logger;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.quarkus.runtime.annotations.RegisterForReflection;
import io.quarkus.vertx.http.HttpServerStart;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.SecurityConfig;
import io.sandstream.problem.ErrorShapes;
import io.sandstream.problem.Problem;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.impl.Deployment;
import io.vertx.core.impl.VertxInternal;
import io.vertx.core.net.impl.TCPServerBase;
import io.vertx.ext.web.RoutingContext;

/**
 * The HTTP port below the router: a cap on connections per client address, a header read timeout
 * and a keep-alive timeout ({@link ConnectionGuard}), and problem JSON (Azure's error body under
 * {@code /pools/}, see {@link ErrorShapes}) for requests the HTTP codec
 * refuses (too long a request line or header block, a bad {@code Content-Length}, a NUL in a
 * header, a TLS handshake or HTTP/0.9 on the plain port), which Vert.x would answer with an empty
 * body.
 *
 * <p>Quarkus creates the Vert.x HTTP servers itself and exposes neither their connections nor their
 * invalid-request handler, so once they listen, each server's per-connection initializer (Vert.x's
 * {@code TCPServerBase.childHandler}, read on every accept) is wrapped: it runs as before, then the
 * cap is checked and the guard added to the pipeline. This leans on two private fields (Quarkus'
 * {@code WebDeploymentVerticle.httpServer} and that one); {@code HttpEdgeTest} fails when an upgrade
 * moves them, and the service then logs a warning and runs with Vert.x's defaults.
 */
@ApplicationScoped
@RegisterForReflection(classNames = { "io.vertx.core.net.impl.TCPServerBase", HttpEdge.QUARKUS_VERTICLE }, methods = false)
public class HttpEdge {

    private static final Logger LOG = Logger.getLogger(HttpEdge.class);
    static final String QUARKUS_VERTICLE = "io.quarkus.vertx.http.runtime.VertxHttpRecorder$WebDeploymentVerticle";

    private final SecurityConfig.Connections config;
    private final Vertx vertx;
    private final MeterRegistry registry;
    private final Map<InetAddress, Integer> open = new ConcurrentHashMap<>();
    private final Set<Object> wrapped = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));
    private final Counter refusedPerAddress;
    private volatile boolean installed;

    public HttpEdge(SandstreamConfig config, Vertx vertx, MeterRegistry registry) {
        this.config = config.security().connections();
        this.vertx = vertx;
        this.registry = registry;
        this.refusedPerAddress = refused("per-address-limit");
        limit("header-timeout-seconds", this.config.headerTimeout().toMillis() / 1000.0);
        limit("keep-alive-timeout-seconds", this.config.keepAliveTimeout().toMillis() / 1000.0);
        limit("max-connections-per-address", this.config.maxPerAddress());
        Gauge.builder("sandstream.http.client.addresses", open, Map::size)
                .description("Client addresses with at least one open connection").register(registry);
    }

    /** Fired once the first HTTP server listens; servers of other event loops may still be starting. */
    void started(@ObservesAsync HttpServerStart start) {
        install(100);
    }

    /** True once every Quarkus HTTP server of the plain port carries the guard. */
    public boolean installed() {
        return installed;
    }

    private void install(int attemptsLeft) {
        boolean complete;
        try {
            complete = wrapServers();
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warnf("HTTP connection limits and problem bodies for malformed requests are off: %s", e.toString());
            return;
        }
        if (complete) {
            installed = true;
        } else if (attemptsLeft > 0) {
            vertx.setTimer(20, id -> install(attemptsLeft - 1));
        } else {
            LOG.warn("Some HTTP servers never started listening; they run without connection limits.");
        }
    }

    /** Wraps every listening server not yet wrapped; true when none is left to wait for. */
    private boolean wrapServers() throws ReflectiveOperationException {
        Field childHandler = TCPServerBase.class.getDeclaredField("childHandler");
        childHandler.setAccessible(true);
        boolean complete = true;
        int servers = 0;
        for (String id : vertx.deploymentIDs()) {
            Deployment deployment = ((VertxInternal) vertx).getDeployment(id);
            if (deployment == null) {
                continue;
            }
            for (var verticle : deployment.getVerticles()) {
                if (!verticle.getClass().getName().equals(QUARKUS_VERTICLE)) {
                    continue;
                }
                Field serverField = verticle.getClass().getDeclaredField("httpServer");
                serverField.setAccessible(true);
                HttpServer server = (HttpServer) serverField.get(verticle);
                if (server == null || !((TCPServerBase) server).isListening()) {
                    complete = false; // this event loop's server is still starting
                    continue;
                }
                TCPServerBase base = (TCPServerBase) server;
                servers++;
                if (wrapped.add(server)) {
                    wrap(childHandler, base);
                }
            }
        }
        return complete && servers > 0;
    }

    @SuppressWarnings("unchecked")
    private void wrap(Field childHandler, TCPServerBase server) throws IllegalAccessException {
        BiConsumer<Channel, Object> original = (BiConsumer<Channel, Object>) childHandler.get(server);
        childHandler.set(server, (BiConsumer<Channel, Object>) (channel, ssl) -> {
            if (admit(channel)) {
                original.accept(channel, ssl);
                ConnectionGuard.attach(channel, this);
            }
        });
    }

    /** Counts the connection against its address, or answers 429 and closes it when the address is at its cap. */
    private boolean admit(Channel channel) {
        int max = config.maxPerAddress();
        if (max <= 0 || !(channel.remoteAddress() instanceof InetSocketAddress remote) || remote.getAddress() == null) {
            return true;
        }
        InetAddress address = remote.getAddress();
        int now = open.merge(address, 1, Integer::sum);
        if (now > max) {
            release(address);
            refusedPerAddress.increment();
            // Refused before any request is read: there is no path, so no pool API shape either.
            ConnectionGuard.lingeringClose(channel.writeAndFlush(ConnectionGuard.answer(HttpResponseStatus.TOO_MANY_REQUESTS,
                    error(null, 429, "too-many-connections", "Too many connections",
                            "At most " + max + " connections may be open at once from one address."))));
            return false;
        }
        channel.closeFuture().addListener(done -> release(address));
        return true;
    }

    private void release(InetAddress address) {
        open.computeIfPresent(address, (key, count) -> count <= 1 ? null : count - 1);
    }

    /** Connections open from {@code address} now, as the cap counts them. */
    int connections(InetAddress address) {
        return open.getOrDefault(address, 0);
    }

    Duration headerTimeout() {
        return config.headerTimeout();
    }

    Duration keepAliveTimeout() {
        return config.keepAliveTimeout();
    }

    void timedOut(String kind) {
        registry.counter("sandstream.http.timeouts", "kind", kind).increment();
    }

    void invalidRequest(int status) {
        registry.counter("sandstream.http.refused", "reason", "invalid-request", "status", Integer.toString(status)).increment();
    }

    private Counter refused(String reason) {
        return Counter.builder("sandstream.http.refused").tag("reason", reason).tag("status", "429")
                .description("Connections and requests refused by the HTTP layer").register(registry);
    }

    private void limit(String name, double value) {
        Gauge.builder("sandstream.http.limit", () -> value).tag("limit", name)
                .description("Configured connection-level limits").register(registry);
    }

    /**
     * An error for a request to {@code path} (null when no request was read), in the shape that path
     * speaks ({@link ErrorShapes}), for the places that write bytes themselves.
     */
    static ErrorShapes.Rendered error(String path, int status, String slug, String title, String detail) {
        return ErrorShapes.render(path, Problem.of(status, slug, title, detail), Map.of());
    }

    /** Ends a request a filter refuses, in the shape of its path; HTTP/1.x connection handling stays the caller's. */
    static Future<Void> refuse(RoutingContext rc, Problem problem, Map<String, String> headers) {
        return ErrorShapes.end(rc.response(), ErrorShapes.render(rc.normalizedPath(), problem, headers));
    }

    /** The codec's reason, first line only and without class names. */
    static String reason(Throwable cause) {
        String message = cause == null || cause.getMessage() == null ? "malformed request" : cause.getMessage();
        int newline = message.indexOf('\n');
        String line = newline < 0 ? message : message.substring(0, newline);
        return line.length() > 200 ? line.substring(0, 200) : line;
    }
}
