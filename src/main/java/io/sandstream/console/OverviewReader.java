package io.sandstream.console;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import jakarta.enterprise.context.ApplicationScoped;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.Priority;

/**
 * Reads the dashboard's numbers from the {@link MeterRegistry}, by the names the pipeline registers
 * them under, so the console and {@code /q/metrics} can never disagree.
 */
@ApplicationScoped
public class OverviewReader {

    static final String POOL_SESSIONS = "sandstream.pool.sessions";
    static final String POOL_EXECUTIONS = "sandstream.pool.executions";
    static final String QUEUE_DEPTH = "sandstream.queue.depth";
    static final String QUEUE_WAIT = "sandstream.queue.wait";
    static final String JOURNAL_PENDING = "sandstream.journal.pending";
    static final String JOURNAL_PENDING_LIMIT = "sandstream.journal.pending.limit";
    /** Executions per second over about the last five seconds. */
    private static final long RATE_WINDOW_NANOS = TimeUnit.SECONDS.toNanos(5);
    private static final long RATE_SPACING_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

    private final MeterRegistry registry;
    private final SandstreamConfig config;
    private final RateWindow rate = new RateWindow(RATE_WINDOW_NANOS, RATE_SPACING_NANOS, System::nanoTime);

    public OverviewReader(MeterRegistry registry, SandstreamConfig config) {
        this.registry = registry;
        this.config = config;
    }

    public Overview read() {
        Map<String, Map<String, Integer>> sessions = new TreeMap<>();
        for (Gauge gauge : registry.find(POOL_SESSIONS).gauges()) {
            sessions.computeIfAbsent(gauge.getId().getTag("pool"), p -> new TreeMap<>())
                    .put(gauge.getId().getTag("state"), (int) gauge.value());
        }
        Map<String, Long> executionsByPool = new TreeMap<>();
        Map<String, Long> byStatus = new TreeMap<>();
        long total = 0;
        for (Counter counter : registry.find(POOL_EXECUTIONS).counters()) {
            long count = (long) counter.count();
            executionsByPool.merge(counter.getId().getTag("pool"), count, Long::sum);
            byStatus.merge(counter.getId().getTag("status"), count, Long::sum);
            total += count;
        }
        List<Overview.PoolLoad> pools = new ArrayList<>();
        sessions.forEach((pool, states) -> {
            SandstreamConfig.Pool configured = config.pools().get(pool);
            pools.add(new Overview.PoolLoad(pool, configured == null ? null : configured.language().wireName(),
                    states.getOrDefault("ready", 0), states.getOrDefault("busy", 0), states.getOrDefault("idle", 0),
                    states.getOrDefault("max", 0), executionsByPool.getOrDefault(pool, 0L)));
        });
        List<Overview.LaneLoad> lanes = new ArrayList<>();
        for (Priority priority : Priority.values()) {
            lanes.add(lane(priority.wireName()));
        }
        return new Overview(Instant.now().toString(), pools, lanes, new Overview.Executions(rate.rate(total), total, byStatus),
                new Overview.Journal(gaugeValue(JOURNAL_PENDING), gaugeValue(JOURNAL_PENDING_LIMIT)));
    }

    private Overview.LaneLoad lane(String lane) {
        Gauge depth = registry.find(QUEUE_DEPTH).tag("lane", lane).gauge();
        Timer wait = registry.find(QUEUE_WAIT).tag("lane", lane).timer();
        if (wait == null) {
            return new Overview.LaneLoad(lane, depth == null ? 0 : (long) depth.value(), 0, 0, 0, null, null);
        }
        Double p50 = null;
        Double p99 = null;
        // The percentiles cover Micrometer's recent window (about two minutes) and read zero once it
        // has nothing in it: a wait is never exactly zero nanoseconds, so zero there means "none".
        for (ValueAtPercentile value : wait.takeSnapshot().percentileValues()) {
            double ms = value.value(TimeUnit.MILLISECONDS);
            if (ms <= 0) {
                continue;
            }
            if (value.percentile() == 0.5) {
                p50 = ms;
            } else if (value.percentile() == 0.99) {
                p99 = ms;
            }
        }
        return new Overview.LaneLoad(lane, depth == null ? 0 : (long) depth.value(), wait.count(),
                wait.mean(TimeUnit.MILLISECONDS), wait.max(TimeUnit.MILLISECONDS), p50, p99);
    }

    private long gaugeValue(String name) {
        Gauge gauge = registry.find(name).gauge();
        return gauge == null ? 0 : (long) gauge.value();
    }
}
