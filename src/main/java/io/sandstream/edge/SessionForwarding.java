package io.sandstream.edge;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;

import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.configuration.MemorySize;
import io.quarkus.vertx.http.runtime.filters.Filters;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.kafka.SessionDirectory;
import io.sandstream.kafka.SessionOwners;
import io.sandstream.poolapi.LegacyExecuteRequest;
import io.sandstream.problem.ErrorShapes;
import io.sandstream.routing.LostSessions;
import io.sandstream.security.ApiKeys;
import io.sandstream.sessions.SessionKey;
import io.sandstream.sessions.SessionPool;
import io.sandstream.sessions.SessionPools;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.validation.ExecuteRequestValidator;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.ext.web.RoutingContext;

/**
 * With several instances ({@code journal.kind=kafka}), every pool API call about one session (both
 * contracts: executions, files, the session; the console uses the same calls) is served by the
 * instance that owns the session ({@link SessionOwners}): another instance relays it there
 * ({@link OwnerProxy}) before any resource sees it. The owner then serves it as a local call.
 * <ul>
 * <li>The caller's key is checked here (its tenant names the session); the owner checks it again
 * as for any call, and counts the rate limit once, since only the owner's resource runs.</li>
 * <li>One hop: a relayed call carries a {@link HopToken} and is never relayed again; an owner that
 * lost the partition meanwhile answers 503 (retry), so no loop. A mark that is not valid is
 * refused (403): nobody outside the cluster can send a call as relayed.</li>
 * <li>A session whose owner died is lost, as in Azure: an unreachable owner is a 503, and once the
 * group moved the partition the new owner answers 410 {@code SessionLost} once
 * ({@link SessionDirectory}), then a new session starts with the identifier.</li>
 * </ul>
 * Errors are Azure's shape (everything here is under {@code /pools/}). With one instance (SQLite)
 * this filter is not registered at all.
 */
@ApplicationScoped
public class SessionForwarding {

    private static final Logger LOG = Logger.getLogger(SessionForwarding.class);
    /** After the credential (150) and size (100) guards: a call that they refuse is refused here, not relayed. */
    private static final int PRIORITY = 90;
    /** How often a relayed call that has no answer yet checks that its owner still holds the session. */
    private static final Duration OWNER_CHECK = Duration.ofSeconds(2);
    /** What follows {@code /pools/{pool}/} on calls about one session ({@code listSessions}, {@code metadata}: the pool). */
    private static final Set<String> SESSION_CALLS = Set.of("code", "python", "files", "executions", "session");

    void register(@Observes Filters filters, SandstreamConfig config, Instance<KafkaClients> kafka,
            Instance<SessionDirectory> directory, ApiKeys keys, SessionPools pools, Vertx vertx, MeterRegistry registry,
            HopToken hop, @ConfigProperty(name = "quarkus.http.limits.max-body-size", defaultValue = "10240K") MemorySize maxBody) {
        if (config.journal().kind() != SandstreamConfig.JournalKind.KAFKA) {
            return;
        }
        Forwarder forwarder = new Forwarder(config.cluster(), kafka.get().owners(), directory.get(), keys, pools, vertx, hop,
                new OwnerProxy(vertx, config.cluster(), hop), registry, maxBody.asLongValue());
        filters.register(forwarder::route, PRIORITY);
    }

    /**
     * Semantic Kernel .NET's {@code POST /pools/{pool}/python/execute} (legacy contract) with no
     * {@code identifier} in the query: the identifier may sit in the body's {@code properties}, so
     * the body is read here (bounded) before the call can be routed.
     */
    static boolean bodyIdentified(RoutingContext rc, SessionPools pools) {
        List<String> path = CredentialGuard.segments(rc.normalizedPath());
        return rc.request().method() == HttpMethod.POST && path.size() == 4 && path.get(0).equals("pools")
                && path.get(2).equals("python") && path.get(3).equals("execute") && !rc.queryParams().contains("identifier")
                && pools.pool(path.get(1)).filter(p -> p.backend().equals("local")).isPresent();
    }

    /** A call about one session of a local pool: which pool, which identifier. */
    record SessionCall(SessionPool pool, String identifier) {

        static Optional<SessionCall> of(RoutingContext rc, SessionPools pools) {
            List<String> path = CredentialGuard.segments(rc.normalizedPath());
            String identifier = rc.queryParams().get("identifier");
            if (path.size() < 3 || !path.get(0).equals("pools") || !SESSION_CALLS.contains(path.get(2))
                    || identifier == null || !ExecuteRequestValidator.SESSION_ID.matcher(identifier).matches()) {
                return Optional.empty(); // not a session call, or one the resource refuses anyway
            }
            // Pools run by Azure (ACA) are reached the same from every instance: nothing to forward.
            return pools.pool(path.get(1)).filter(p -> p.backend().equals("local")).map(p -> new SessionCall(p, identifier));
        }
    }

    static final class Forwarder {

        private final SandstreamConfig.Cluster config;
        private final SessionOwners owners;
        private final SessionDirectory directory;
        private final ApiKeys keys;
        private final SessionPools pools;
        private final Vertx vertx;
        private final HopToken hop;
        private final OwnerProxy proxy;
        private final MeterRegistry registry;
        private final Counter lost;
        private final long maxBody;

        Forwarder(SandstreamConfig.Cluster config, SessionOwners owners, SessionDirectory directory, ApiKeys keys,
                SessionPools pools, Vertx vertx, HopToken hop, OwnerProxy proxy, MeterRegistry registry, long maxBody) {
            this.maxBody = maxBody;
            this.config = config;
            this.owners = owners;
            this.directory = directory;
            this.keys = keys;
            this.pools = pools;
            this.vertx = vertx;
            this.hop = hop;
            this.proxy = proxy;
            this.registry = registry;
            this.lost = LostSessions.counter(registry);
        }

        void route(RoutingContext rc) {
            if (rc.request().getHeader(HopToken.HEADER) == null && bodyIdentified(rc, pools)) {
                Optional<KeyScope> caller = keys.scopeOf(rc.request().getHeader("Authorization"));
                if (caller.isPresent()) { // else the resource answers 401 as for any call
                    routeByBody(rc, caller.get());
                    return;
                }
            }
            Optional<SessionCall> call = SessionCall.of(rc, pools);
            Optional<KeyScope> scope = call.isEmpty() ? Optional.empty()
                    : keys.scopeOf(rc.request().getHeader("Authorization"));
            if (scope.isEmpty()) {
                rc.next(); // not ours, or the resource answers 401 as for any call
                return;
            }
            SessionKey session = new SessionKey(scope.get().poolTenant(), call.get().identifier());
            int partition = owners.partition(session.identifier(), session.tenant());
            String mark = rc.request().getHeader(HopToken.HEADER);
            if (mark != null) {
                if (!hop.valid(mark, rc.request().method().name(), rc.request().uri())) {
                    count("refused");
                    refuse(rc, 403, "ForwardRefused", "Only the service's own instances may send a call as forwarded.");
                } else if (!owners.owns(partition)) {
                    count("moved");
                    refuse(rc, 503, "SessionOwnerMoved", "The session moved to another instance while this call was"
                            + " forwarded; retry.", Map.of("Retry-After", "1"));
                } else {
                    serveHere(rc, call.get().pool(), session);
                }
                return;
            }
            if (owners.owns(partition)) {
                serveHere(rc, call.get().pool(), session);
                return;
            }
            withOwner(rc, partition, owner -> {
                if (owner.isEmpty()) {
                    serveHere(rc, call.get().pool(), session);
                } else {
                    forward(rc, owner.get(), partition);
                }
            });
        }

        /**
         * Asks the group who holds {@code partition} (blocking: off the event loop, waiting up to
         * {@code owner-wait} during a rebalance), then {@code then} with it (empty: this instance
         * may serve); no answer in time is a 503 to the caller.
         */
        private void withOwner(RoutingContext rc, int partition, Consumer<Optional<String>> then) {
            vertx.executeBlocking(() -> owners.owner(partition, config.ownerWait()), false).onComplete(found -> {
                if (found.failed()) {
                    count("no-owner");
                    refuse(rc, 503, "SessionOwnerUnavailable", "No instance holds this session right now ("
                            + found.cause().getMessage() + "); retry.", Map.of("Retry-After", "5"));
                } else {
                    then.accept(found.result());
                }
            });
        }

        /**
         * A call whose session is named in its body ({@link #bodyIdentified}): the body is read
         * (up to the transport's limit), then the call goes on as if the identifier were in the
         * query: to the owner, or to this very instance when it owns the session or when the body
         * names none (the resource then answers what it answers any such call). It is relayed
         * either way, since the body has been read: the relayed copy carries it, and the
         * identifier as a query parameter, which the resource prefers anyway.
         */
        private void routeByBody(RoutingContext rc, KeyScope scope) {
            Buffer body = Buffer.buffer();
            HttpServerRequest request = rc.request();
            request.exceptionHandler(failure -> request.connection().close());
            request.handler(chunk -> {
                if (body.length() + chunk.length() > maxBody) {
                    request.handler(null);
                    request.endHandler(null);
                    refuse(rc, 413, "PayloadTooLarge", "A request may carry at most " + maxBody + " bytes.");
                } else {
                    body.appendBuffer(chunk);
                }
            });
            request.endHandler(ended -> {
                String identifier = LegacyExecuteRequest.bodyIdentifier(body.getBytes());
                if (identifier == null || !ExecuteRequestValidator.SESSION_ID.matcher(identifier).matches()) {
                    forward(rc, owners.advertisedUrl(), -1, request.uri(), body);
                    return;
                }
                String uri = request.uri() + (request.uri().contains("?") ? "&" : "?") + "identifier="
                        + URLEncoder.encode(identifier, StandardCharsets.UTF_8);
                int partition = owners.partition(identifier, scope.poolTenant());
                if (owners.owns(partition)) {
                    forward(rc, owners.advertisedUrl(), partition, uri, body);
                    return;
                }
                withOwner(rc, partition, owner -> forward(rc, owner.orElse(owners.advertisedUrl()), partition, uri, body));
            });
            request.resume();
        }

        private void forward(RoutingContext rc, String owner, int partition) {
            forward(rc, owner, partition, rc.request().uri(), null);
        }

        /** {@code partition} negative: a call that names no session (no owner to watch); {@code body} null: it streams. */
        private void forward(RoutingContext rc, String owner, int partition, String uri, Buffer body) {
            OwnerWatch watch = new OwnerWatch(owner, partition);
            if (partition >= 0) {
                watch.timer = vertx.setPeriodic(OWNER_CHECK.toMillis(), id -> watch.check()); // first: the relay may end at once
            }
            watch.relay = proxy.relay(rc.request(), uri, body, rc.response(), owner, outcome -> {
                if (partition >= 0) {
                    vertx.cancelTimer(watch.timer);
                }
                count(outcome.name().toLowerCase());
                if (outcome == OwnerProxy.Outcome.UNREACHABLE) {
                    owners.stale();
                    LOG.debugf("the owner %s of a session did not answer", owner);
                    refuse(rc, 503, "SessionOwnerUnavailable", "The instance that holds this session does not answer;"
                            + " if it stopped, the session is lost and the next call after the cluster noticed starts a"
                            + " new one. Retry.", Map.of("Retry-After", "5"));
                }
            });
        }

        /**
         * While a relayed call waits for the owner's answer: once the group gives the session's
         * partition to another instance (the owner stopped answering the group too), the call is
         * given up at once rather than after {@code forward-idle-timeout}. A host that vanished
         * never resets the connection, and a synchronous execution may rightly take minutes, so
         * only the group can tell the two apart.
         */
        private final class OwnerWatch {
            private final String owner;
            private final int partition;
            private volatile OwnerProxy.Relay relay;
            private volatile long timer;

            OwnerWatch(String owner, int partition) {
                this.owner = owner;
                this.partition = partition;
            }

            void check() {
                vertx.executeBlocking(() -> owners.owner(partition, Duration.ZERO), false).onSuccess(now -> {
                    if (!now.equals(Optional.of(owner)) && relay != null) {
                        relay.abort(); // another instance (or this one) holds the partition now
                    }
                }); // no owner at all (a rebalance): keep waiting
            }
        }

        /**
         * The owner serves the call; a session its pool does not hold is checked in the directory
         * first (blocking, only when a session is new or lost): lost answers 410 once.
         */
        private void serveHere(RoutingContext rc, SessionPool pool, SessionKey session) {
            if (pool.holds(session)) {
                rc.next();
                return;
            }
            boolean opens = rc.request().method() == HttpMethod.POST;
            vertx.executeBlocking(() -> directory.absent(pool.name(), session.tenant(), session.identifier(), opens,
                    config.ownerWait()), false).onComplete(found -> {
                        if (found.failed()) {
                            boolean timeout = found.cause() instanceof TimeoutException;
                            refuse(rc, 503, "SessionDirectoryUnavailable", "Whether this session existed on another"
                                    + " instance cannot be told right now (" + found.cause().getMessage() + "); retry.",
                                    Map.of("Retry-After", timeout ? "5" : "1"));
                        } else if (found.result() == SessionDirectory.Found.LOST) {
                            lost.increment();
                            refuse(rc, 410, "SessionLost", "Session '" + session.identifier() + "' lived on an"
                                    + " instance that stopped (or handed it over); its variables and files are gone."
                                    + " The next call with this identifier starts a new session.");
                        } else {
                            rc.next();
                        }
                    });
        }

        private void count(String outcome) {
            registry.counter("sandstream.cluster.forwarded", "outcome", outcome).increment();
        }

        private static void refuse(RoutingContext rc, int status, String code, String message) {
            refuse(rc, status, code, message, Map.of());
        }

        /** Answers the error and, on HTTP/1.x, closes the connection: a body still arriving is not read. */
        private static void refuse(RoutingContext rc, int status, String code, String message, Map<String, String> headers) {
            if (rc.response().headWritten()) {
                rc.request().connection().close();
                return;
            }
            boolean http1 = rc.request().version() != HttpVersion.HTTP_2;
            if (http1) {
                rc.response().putHeader("Connection", "close");
            }
            ErrorShapes.end(rc.response(), ErrorShapes.azure(status, code, message, headers)).onComplete(written -> {
                if (http1) {
                    rc.request().connection().close();
                }
            });
        }
    }
}
