package io.sandstream.sessions.local;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.ObservesAsync;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.Startup;
import io.quarkus.vertx.http.HttpServerStart;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.sessions.PoolStats;
import io.sandstream.sessions.SessionPool;
import io.sandstream.tenancy.TenantQuotas;

/**
 * The configured local pools, started with the service and destroyed with it. A crash needs no
 * cleanup here: every sandbox dies with its parent (bubblewrap's {@code --die-with-parent}).
 * Their warm sandboxes start after the first readiness check, or {@code sessions.warm-up-delay}
 * after the HTTP server listens when no probe comes first: started beside the JVM's own start they
 * took the cores it needed (17 sandboxes at once with the default pools), and started as the server
 * listened they still delayed the first probe's answer. A service that answers ready runs an
 * execution before then too, in a sandbox started cold (about 70 ms).
 */
@Startup
@ApplicationScoped
public class LocalPools {

    private final SandstreamConfig config;
    private final DataDirectory dataDirectory;
    private final MeterRegistry registry;
    private final TenantQuotas quotas;
    private final Map<String, LocalSessionPool> pools = new LinkedHashMap<>();
    private ExecutorService workers;
    private ScheduledExecutorService timers;
    private SandboxLauncher launcher;

    public LocalPools(SandstreamConfig config, DataDirectory dataDirectory, MeterRegistry registry, TenantQuotas quotas) {
        this.config = config;
        this.quotas = quotas;
        this.dataDirectory = dataDirectory;
        this.registry = registry;
    }

    @PostConstruct
    void start() {
        AtomicInteger threads = new AtomicInteger();
        // Sandbox starts and file hand-offs block: they run here, never on the event loop.
        workers = Executors.newFixedThreadPool(4, r -> daemon(r, "sandbox-worker-" + threads.incrementAndGet()));
        ScheduledThreadPoolExecutor timerPool = new ScheduledThreadPoolExecutor(2,
                r -> daemon(r, "sandbox-timer-" + threads.incrementAndGet()));
        // Every execution sets a wall timer (30 s by default) and nearly all cancel it within
        // milliseconds: without this, cancelled timers would pile up in the queue until they expire.
        timerPool.setRemoveOnCancelPolicy(true);
        timers = timerPool;
        launcher = new SandboxLauncher(config.sessions(), dataDirectory.root());
        config.pools().forEach((name, poolConfig) -> {
            LocalSessionPool pool = new LocalSessionPool(name, poolConfig, launcher, config.sessions().interruptGrace(),
                    workers, timers, registry, quotas);
            pools.put(name, pool);
            gauge(name, "ready", pool, PoolStats::ready);
            gauge(name, "busy", pool, PoolStats::busy);
            gauge(name, "idle", pool, PoolStats::idle);
            gauge(name, "max", pool, PoolStats::maxSessions);
            SandstreamConfig.Limits limits = poolConfig.limits();
            Map.ofEntries(Map.entry("memory_mib", limits.memoryMib()), Map.entry("cpu_seconds", limits.cpuSeconds()),
                    Map.entry("process_cpu_seconds", limits.processCpuSeconds()),
                    Map.entry("cpu_millicores", launcher.cpuByCgroup() ? limits.cpuMillicores() : 0),
                    Map.entry("pids", limits.pids()), Map.entry("open_files", limits.openFiles()),
                    Map.entry("file_size_mib", limits.fileSizeMib()), Map.entry("data_mib", limits.dataMib()),
                    Map.entry("tmp_mib", limits.tmpMib()), Map.entry("shm_mib", limits.shmMib()),
                    Map.entry("output_bytes", limits.outputBytes()), Map.entry("transfer_bytes", limits.transferBytes()),
                    Map.entry("ready_sessions", poolConfig.readySessions()),
                    Map.entry("max_lifetime_seconds", (int) poolConfig.maxLifetime().toSeconds()))
                    .forEach((limit, value) -> Gauge.builder("sandstream.pool.limit", () -> value).tag("pool", name)
                            .tag("limit", limit).description("A configured limit of a local pool").register(registry));
            Gauge.builder("sandstream.pool.limit", () -> poolConfig.cooldown().toSeconds()).tag("pool", name)
                    .tag("limit", "cooldown_seconds").register(registry);
        });
    }

    void listening(@ObservesAsync HttpServerStart started) {
        timers.schedule(this::warmUp, config.sessions().warmUpDelay().toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Starts every pool's warm sandboxes and their upkeep; the first call does, later ones return. */
    void warmUp() {
        pools.values().forEach(LocalSessionPool::startMaintenance);
    }

    private void gauge(String pool, String state, LocalSessionPool target, java.util.function.ToIntFunction<PoolStats> value) {
        Gauge.builder("sandstream.pool.sessions", target, p -> value.applyAsInt(p.stats()))
                .tag("pool", pool).tag("state", state).description("Sessions of a pool by state")
                .register(registry);
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    public Optional<SessionPool> pool(String name) {
        return Optional.ofNullable(pools.get(name));
    }

    public Map<String, LocalSessionPool> all() {
        return pools;
    }

    @PreDestroy
    void stop() {
        pools.values().forEach(LocalSessionPool::shutdown);
        timers.shutdownNow();
        workers.shutdownNow();
        launcher.close();
    }
}
