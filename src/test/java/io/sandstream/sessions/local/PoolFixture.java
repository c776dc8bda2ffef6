package io.sandstream.sessions.local;

import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.TestConfigs;
import io.sandstream.model.Tenant;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionSpec;
import io.sandstream.sessions.ExecutionUpdate;
import io.sandstream.sessions.SessionKey;
import io.sandstream.tenancy.TenantQuotas;

/** Real local pools on real bubblewrap sandboxes, built without Quarkus for the session tests. */
final class PoolFixture implements AutoCloseable {

    static final Duration WAIT = Duration.ofSeconds(60);

    final SandstreamConfig config;
    final SandboxLauncher launcher;
    final ExecutorService workers = Executors.newFixedThreadPool(4);
    final ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(2);
    final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    final LocalSessionPool python;
    final LocalSessionPool javascript;

    PoolFixture(Path dataDir, Map<String, String> overrides) {
        Map<String, String> properties = new HashMap<>(Map.of(
                "sandstream.data-dir", dataDir.toString(),
                "sandstream.pools.python.language", "python",
                "sandstream.pools.javascript.language", "javascript",
                "sandstream.pools.python.ready-sessions", "2",
                "sandstream.pools.javascript.ready-sessions", "1",
                "sandstream.sessions.interrupt-grace", "1s"));
        properties.putAll(overrides);
        timers.setRemoveOnCancelPolicy(true); // as in LocalPools
        config = TestConfigs.sandstream(properties);
        launcher = new SandboxLauncher(config.sessions(), dataDir);
        python = new LocalSessionPool("python", config.pools().get("python"), launcher,
                config.sessions().interruptGrace(), workers, timers, registry, new TenantQuotas(config, registry));
        javascript = new LocalSessionPool("javascript", config.pools().get("javascript"), launcher,
                config.sessions().interruptGrace(), workers, timers, registry, new TenantQuotas(config, registry));
        python.startMaintenance();
        javascript.startMaintenance();
    }

    /** A session of the shared tenant. */
    static SessionKey key(String identifier) {
        return new SessionKey(Tenant.SHARED, identifier);
    }

    /** Runs code and returns every update, the result last. */
    static List<ExecutionUpdate> updates(LocalSessionPool pool, String session, String code, int timeout) {
        return pool.execute(Optional.ofNullable(session).map(PoolFixture::key), new ExecutionSpec(code, timeout, List.of()))
                .collect().asList().await().atMost(WAIT);
    }

    static ExecutionResult run(LocalSessionPool pool, String session, String code) {
        return run(pool, session, code, 20);
    }

    static ExecutionResult run(LocalSessionPool pool, String session, String code, int timeout) {
        return pool.run(Optional.ofNullable(session).map(PoolFixture::key), new ExecutionSpec(code, timeout, List.of())).await().atMost(WAIT);
    }

    /** Destroys every sandbox but keeps the launcher's claims (its uid block): checks of what is left go here. */
    void shutdownPools() {
        python.shutdown();
        javascript.shutdown();
        timers.shutdownNow();
        workers.shutdownNow();
    }

    @Override
    public void close() {
        shutdownPools();
        launcher.close();
    }
}
