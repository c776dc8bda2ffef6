package io.sandstream.routing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.kafka.SessionDirectory;
import io.sandstream.sessions.SessionKey;
import io.sandstream.sessions.SessionPool;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/**
 * With more than one instance, tells an event's session that died with its instance from a new
 * one, as the pool API does (docs/scale-out.md, "Sessions across instances"): an execution for a
 * session of a local pool that this instance does not hold is looked up in the session directory
 * first. A session another run opened is lost; that execution's result says so
 * ({@code SessionLost}) and it does not run, and the next execution with the identifier starts a
 * new session. A session opened here is recorded before it opens. With one instance there is no
 * directory and nothing is looked up.
 */
@ApplicationScoped
public class LostSessions {

    /** Null with one instance (no Kafka journal). */
    private final SessionDirectory directory;
    private final Duration wait;
    private final Counter lost;

    LostSessions(SandstreamConfig config, Instance<SessionDirectory> directory, MeterRegistry registry) {
        this.directory = config.journal().kind() == SandstreamConfig.JournalKind.KAFKA ? directory.get() : null;
        this.wait = config.cluster().ownerWait();
        this.lost = counter(registry);
    }

    /** {@code sandstream_cluster_sessions_lost_total}: one figure for the pool API's calls and the executions. */
    public static Counter counter(MeterRegistry registry) {
        return Counter.builder("sandstream.cluster.sessions.lost")
                .description("Session calls answered SessionLost and executions given a SessionLost result:"
                        + " the session's owner died or its partition moved")
                .register(registry);
    }

    /** Whether {@link #lost} must be asked: a session of a local pool that this instance does not hold, with a directory. */
    boolean mayBeLost(SessionPool pool, SessionKey session) {
        return directory != null && pool.backend().equals("local") && !pool.holds(session);
    }

    /**
     * Whether the session was opened by another run (then its entry is removed, so this answers
     * true once); else the session is recorded as this run's before it opens. Blocking work, run on
     * a worker thread. A directory that cannot be read or written in time fails with an I/O error,
     * which the dispatcher retries as any backend failure.
     */
    Uni<Boolean> lost(SessionPool pool, SessionKey session) {
        return Uni.createFrom().item(() -> {
            try {
                boolean gone = directory.absent(pool.name(), session.tenant(), session.identifier(), true, wait)
                        == SessionDirectory.Found.LOST;
                if (gone) {
                    lost.increment();
                }
                return gone;
            } catch (TimeoutException e) {
                throw new UncheckedIOException(new IOException("the session directory: " + e.getMessage(), e));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new UncheckedIOException(new IOException("interrupted while reading the session directory", e));
            }
        }).runSubscriptionOn(Infrastructure.getDefaultWorkerPool());
    }
}
