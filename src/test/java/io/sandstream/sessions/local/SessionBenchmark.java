package io.sandstream.sessions.local;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;


/**
 * Session benchmark, not a test: excluded from the suite, run with {@code ./mvnw -Pbench verify}.
 * Prints warm allocation, trivial round trip, throughput with N sessions, cold start, memory per
 * idle ready sandbox, and the same workload run with a fresh sandbox per execution as the baseline.
 */
class SessionBenchmark {

    private static final long FIRST_UID = 310_000;
    private static final int READY = 8;

    @TempDir
    Path dir;

    @Test
    void measure() throws Exception {
        try (PoolFixture fixture = new PoolFixture(dir, Map.of("sandstream.sessions.first-uid", Long.toString(FIRST_UID),
                "sandstream.pools.python.ready-sessions", Integer.toString(READY),
                "sandstream.pools.python.max-sessions", "40"))) {
            LocalSessionPool pool = fixture.python;
            awaitReady(pool);
            System.out.println();
            System.out.printf("machine: %d cores; python pool, %d ready sandboxes%n", Runtime.getRuntime().availableProcessors(), READY);

            for (int i = 0; i < 300; i++) {
                PoolFixture.run(pool, "warmup", "1+1"); // JIT warm-up of the supervisor
            }
            List<Long> trivial = new ArrayList<>();
            for (int i = 0; i < 2000; i++) {
                long t = System.nanoTime();
                PoolFixture.run(pool, "trivial", "1+1");
                trivial.add(System.nanoTime() - t);
            }
            print("trivial execution round trip, warm session", trivial);

            List<Long> firstUse = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                awaitReady(pool);
                long t = System.nanoTime();
                PoolFixture.run(pool, "alloc-" + i, "1+1");
                firstUse.add(System.nanoTime() - t);
                pool.deleteSession(PoolFixture.key("alloc-" + i)).await().indefinitely();
            }
            print("new session: warm allocation + first execution", firstUse);
            var allocation = fixture.registry.get("sandstream.pool.allocation").tag("kind", "warm").timer().takeSnapshot();
            System.out.printf("warm allocation (sandstream_pool_allocation)      %s (n=%d)%n",
                    java.util.Arrays.stream(allocation.percentileValues())
                            .map(v -> String.format("p%.0f %7.3f ms", v.percentile() * 100, v.value(TimeUnit.MILLISECONDS)))
                            .reduce((a, b) -> a + "   " + b).orElse(""), allocation.count());

            awaitReady(pool);
            System.out.printf("memory per idle ready sandbox: %s%n", memoryPerSandbox(READY));

            List<Long> cold = new ArrayList<>();
            for (int i = 0; i < 15; i++) {
                long t = System.nanoTime();
                Sandbox sandbox = Sandbox.start(fixture.launcher, Runner.PYTHON, limits(fixture), Duration.ofSeconds(1), fixture.timers,
                        fixture.registry.counter("test.output.read"));
                cold.add(System.nanoTime() - t);
                sandbox.kill(null);
            }
            print("cold sandbox start (bwrap + python runner ready)", cold);

            double baseline = throughput(2, 5, worker -> {
                Sandbox sandbox = Sandbox.start(fixture.launcher, Runner.PYTHON, limits(fixture), Duration.ofSeconds(1), fixture.timers,
                        fixture.registry.counter("test.output.read"));
                try {
                    sandbox.execute("1+1", 10, u -> { }).get(30, TimeUnit.SECONDS);
                } finally {
                    sandbox.kill(null);
                }
            });
            System.out.printf("baseline, fresh sandbox per execution (2 workers): %8.0f executions/s%n", baseline);
            for (int sessions : new int[] {1, 2, 4, 8}) {
                double rate = throughput(sessions, 5, worker -> PoolFixture.run(pool, "tp-" + worker, "1+1"));
                System.out.printf("pooled, %d concurrent sessions:                 %8.0f executions/s  (%.1fx baseline)%n",
                        sessions, rate, rate / baseline);
            }
        }
    }

    private static io.sandstream.config.SandstreamConfig.Limits limits(PoolFixture fixture) {
        return io.sandstream.config.TestConfigs.sandstream(Map.of("sandstream.pools.python.language", "python"))
                .pools().get("python").limits();
    }

    private interface Work {
        void run(int worker) throws Exception;
    }

    private static double throughput(int workers, int seconds, Work work) throws Exception {
        AtomicLong done = new AtomicLong();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        long start = System.nanoTime();
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            int worker = w;
            all.add(CompletableFuture.runAsync(() -> {
                try {
                    while (System.nanoTime() < end) {
                        work.run(worker);
                        done.incrementAndGet();
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, r -> new Thread(r).start()));
        }
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get();
        return done.get() / ((System.nanoTime() - start) / 1e9);
    }

    private static void awaitReady(LocalSessionPool pool) throws InterruptedException {
        for (int i = 0; i < 300 && pool.stats().ready() < READY; i++) {
            Thread.sleep(20);
        }
    }

    private static String memoryPerSandbox(int sandboxes) throws Exception {
        long rss = 0;
        long pss = 0;
        for (ProcessHandle p : ProcessHandle.allProcesses().toList()) {
            Path status = Path.of("/proc/" + p.pid() + "/status");
            List<String> lines;
            try {
                lines = Files.readAllLines(status);
            } catch (Exception e) {
                continue;
            }
            long uid = lines.stream().filter(l -> l.startsWith("Uid:")).mapToLong(l -> Long.parseLong(l.split("\\s+")[1]))
                    .findFirst().orElse(-1);
            if (uid < FIRST_UID || uid >= FIRST_UID + 4096) {
                continue;
            }
            rss += kib(lines, "VmRSS:");
            try {
                pss += kib(Files.readAllLines(Path.of("/proc/" + p.pid() + "/smaps_rollup")), "Pss:");
            } catch (Exception e) {
                // no smaps_rollup on this kernel
            }
        }
        return String.format("RSS %.1f MiB, PSS %.1f MiB (bwrap, its init and the runner; PSS shares common pages)",
                rss / 1024.0 / sandboxes, pss / 1024.0 / sandboxes);
    }

    private static long kib(List<String> lines, String key) {
        return lines.stream().filter(l -> l.startsWith(key)).mapToLong(l -> Long.parseLong(l.split("\\s+")[1])).sum();
    }

    private static double percentile(List<Long> nanos, double p) {
        List<Long> sorted = new ArrayList<>(nanos);
        Collections.sort(sorted);
        return sorted.get((int) Math.min(sorted.size() - 1, Math.floor(p * sorted.size())));
    }

    private static void print(String what, List<Long> nanos) {
        System.out.printf("%-50s p50 %7.3f ms   p99 %7.3f ms   (n=%d)%n", what, percentile(nanos, 0.5) / 1e6,
                percentile(nanos, 0.99) / 1e6, nanos.size());
    }
}
