package io.sandstream.sessions.local;

import java.util.Map;
import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;

import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

import io.sandstream.sessions.PoolStats;

/**
 * Ready unless a local pool has no warm sandbox and cannot start one (its last start failed), or
 * every session it may hold is wedged.
 * Lists each pool: {@code <pool>.status}, {@code .ready}, {@code .busy}, {@code .idle}, {@code .max},
 * {@code .wedged}, and {@code .problem} when it is down. A pool whose sessions are all in use stays
 * up: its work waits in the journal, and a replica taken out of service for being busy would refuse
 * events too. A pool whose sessions are all wedged (held past every deadline) is down.
 */
@Readiness
@ApplicationScoped
public class PoolsHealthCheck implements HealthCheck {

    private final LocalPools pools;

    public PoolsHealthCheck(LocalPools pools) {
        this.pools = pools;
    }

    /** The first call also starts the pools' warm-up (see {@link LocalPools}): after its own answer is made. */
    @Override
    public HealthCheckResponse call() {
        HealthCheckResponse response = check(pools.all());
        pools.warmUp();
        return response;
    }

    static HealthCheckResponse check(Map<String, LocalSessionPool> pools) {
        HealthCheckResponseBuilder response = HealthCheckResponse.named("session-pools").up();
        pools.forEach((name, pool) -> {
            PoolStats stats = pool.stats();
            int wedged = pool.wedged();
            String problem = problem(stats, wedged, pool.startFailure());
            response.withData(name + ".status", problem == null ? "UP" : "DOWN")
                    .withData(name + ".ready", stats.ready())
                    .withData(name + ".busy", stats.busy())
                    .withData(name + ".idle", stats.idle())
                    .withData(name + ".wedged", wedged)
                    .withData(name + ".max", stats.maxSessions());
            if (problem != null) {
                response.withData(name + ".problem", problem).down();
            }
        });
        return response.build();
    }

    /**
     * Why a pool cannot serve, or null. A pool that is merely busy is up; one whose every session
     * is held by an operation its limits failed to end takes no new work until one is freed.
     */
    static String problem(PoolStats stats, int wedged, Optional<String> startFailure) {
        if (wedged > 0 && wedged >= stats.maxSessions()) {
            return "every session is wedged (" + wedged + " operations past their deadline)";
        }
        return stats.ready() > 0 ? null : startFailure.map(failure -> "sandboxes fail to start (" + failure + ")").orElse(null);
    }
}
