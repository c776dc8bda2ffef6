package io.sandstream.sessions.local;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.tenancy.TenantQuotas;

/**
 * Session benchmark, not a test: excluded from the suite, run with {@code ./mvnw -Pbench verify}.
 * Prints warm allocation, trivial round trip, throughput with N sessions, memory per idle ready
 * sandbox, and the same workload run with a fresh sandbox per execution as the baseline; then, for
 * every local pool the service configures ({@code sandstream.pools.*.language} in
 * application.properties), the cold start of its sandbox and a warm trivial execution, against a
 * plain {@code bwrap} + the interpreter measured in the same run ({@code -Dbench.languages-only}:
 * that table alone).
 */
class SessionBenchmark {

    private static final long FIRST_UID = 310_000;
    private static final int READY = 8;

    @TempDir
    Path dir;

    private static final int COLD_RUNS = 21;
    private static final int WARM_RUNS = 300;

    @Test
    void measure() throws Exception {
        Map<String, String> languages = configuredPools();
        Map<String, String> properties = new HashMap<>(Map.of("sandstream.sessions.first-uid", Long.toString(FIRST_UID),
                "sandstream.pools.python.ready-sessions", Integer.toString(READY),
                "sandstream.pools.python.max-sessions", "40"));
        languages.forEach((pool, language) -> {
            properties.putIfAbsent("sandstream.pools." + pool + ".language", language);
            properties.putIfAbsent("sandstream.pools." + pool + ".ready-sessions", "1");
        });
        try (PoolFixture fixture = new PoolFixture(dir, properties)) {
            LocalSessionPool pool = fixture.python;
            awaitReady(pool);
            System.out.println();
            System.out.printf("machine: %d cores, load average %s; python pool, %d ready sandboxes%n",
                    Runtime.getRuntime().availableProcessors(), loadAverage(), READY);
            if (Boolean.getBoolean("bench.languages-only")) { // -Dbench.languages-only: the per-language table alone
                perLanguage(fixture, languages);
                return;
            }

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
            perLanguage(fixture, languages);
        }
    }

    /** The local pools application.properties configures (no profile), by name: their language. */
    private static Map<String, String> configuredPools() throws Exception {
        Properties properties = new Properties();
        try (InputStream in = SessionBenchmark.class.getResourceAsStream("/application.properties")) {
            properties.load(in);
        }
        Map<String, String> pools = new LinkedHashMap<>();
        properties.stringPropertyNames().stream().sorted()
                .filter(k -> k.startsWith("sandstream.pools.") && k.endsWith(".language"))
                .forEach(k -> pools.put(k.substring("sandstream.pools.".length(), k.length() - ".language".length()),
                        properties.getProperty(k)));
        return pools;
    }

    /** A trivial program per language; a language not listed here runs {@code 1+1}. */
    private static final Map<String, String> TRIVIAL = Map.of(
            "bash", "true",
            "c", "int main(void) { return 0; }",
            "cpp", "int main() { return 0; }",
            "go", "package main\n\nfunc main() {}\n",
            "java", "class Main { public static void main(String[] args) { } }",
            "ruby", "1 + 1");

    /** The interpreter a plain bwrap runs for the baseline, per language; {@code /bin/sh -c :} for the others. */
    private static List<String> baselineCommand(SandstreamConfig config, String language) {
        return switch (language) {
            case "python" -> List.of(config.sessions().python(), "-I", "-c", "pass");
            case "javascript", "typescript" -> List.of(config.sessions().node(), "-e", "0");
            case "bash" -> List.of("/bin/bash", "-c", ":");
            case "ruby" -> List.of("/usr/bin/ruby", "-e", "0");
            default -> List.of("/bin/sh", "-c", ":");
        };
    }

    /**
     * Per configured pool: the cold start of one sandbox (Sandbox.start: FIFO, cgroups, the launch
     * chain, bwrap, the runner's imports, its ready message) and a trivial execution in a warm
     * session, against a plain bwrap (user, pid and net namespaces; /usr read-only; /proc, /dev)
     * running the bare interpreter to its exit, started from this JVM the same way, interleaved.
     */
    private static void perLanguage(PoolFixture fixture, Map<String, String> languages) throws Exception {
        System.out.printf("%ncold start and warm trivial execution per configured local pool; baseline: plain bwrap + the"
                + " interpreter, same run, interleaved (load average %s)%n", loadAverage());
        System.out.printf("%-11s %-21s %-21s %-21s %-8s %-21s %s%n", "language", "cold start p50/p99", "baseline p50/p99",
                "cold - baseline p50", "ratio", "warm exec p50/p99", "baseline command");
        SandstreamConfig config = fixture.config;
        for (var entry : languages.entrySet()) {
            String name = entry.getKey();
            SandstreamConfig.Pool poolConfig = config.pools().get(name);
            String language = poolConfig.language().wireName();
            Runner runner;
            try {
                runner = Runner.of(name, poolConfig.language());
            } catch (IllegalArgumentException e) {
                System.out.printf("%-11s no local runner: %s%n", language, e.getMessage());
                continue;
            }
            List<String> baseline = baselineCommand(config, language);
            List<Long> cold = new ArrayList<>();
            List<Long> bare = new ArrayList<>();
            for (int i = 0; i < COLD_RUNS; i++) {
                bare.add(plainBwrap(baseline));
                long t = System.nanoTime();
                Sandbox sandbox = Sandbox.start(fixture.launcher, runner, poolConfig.limits(), Duration.ofSeconds(1),
                        fixture.timers, fixture.registry.counter("test.output.read"));
                cold.add(System.nanoTime() - t);
                sandbox.kill(null);
            }
            LocalSessionPool pool = name.equals("python") ? fixture.python : name.equals("javascript") ? fixture.javascript
                    : new LocalSessionPool(name, poolConfig, fixture.launcher, config.sessions().interruptGrace(), fixture.workers,
                            fixture.timers, fixture.registry, new TenantQuotas(config, fixture.registry));
            List<Long> warm = new ArrayList<>();
            String code = TRIVIAL.getOrDefault(language, "1+1");
            String failed = null;
            try {
                for (int i = 0; i < WARM_RUNS + 50; i++) {
                    long t = System.nanoTime();
                    ExecutionResult r = PoolFixture.run(pool, "bench-" + name, code);
                    if (i >= 50) {
                        warm.add(System.nanoTime() - t);
                    }
                    if (r.status() != io.sandstream.sessions.ExecutionResult.Status.Succeeded && failed == null) {
                        failed = r.status() + " " + r.errorType() + " " + r.stderr();
                    }
                }
            } finally {
                if (pool != fixture.python && pool != fixture.javascript) {
                    pool.shutdown();
                }
            }
            double coldP50 = percentile(cold, 0.5) / 1e6;
            double bareP50 = percentile(bare, 0.5) / 1e6;
            System.out.printf("%-11s %8.1f / %7.1f ms  %8.1f / %7.1f ms  %+8.1f ms           %5.2fx  %7.3f / %7.3f ms  %s%n",
                    language, coldP50, percentile(cold, 0.99) / 1e6, bareP50, percentile(bare, 0.99) / 1e6, coldP50 - bareP50,
                    coldP50 / bareP50, percentile(warm, 0.5) / 1e6, percentile(warm, 0.99) / 1e6, String.join(" ", baseline));
            if (failed != null) {
                System.out.printf("%-11s   (the trivial execution did not succeed: %s)%n", "", failed.strip());
            }
        }
        System.out.printf("(n=%d cold starts and baselines, %d warm executions per language)%n", COLD_RUNS, WARM_RUNS);
    }

    /** Wall time of a plain bwrap running {@code command} from this JVM to its exit. */
    private static long plainBwrap(List<String> command) throws Exception {
        List<String> bwrap = new ArrayList<>(List.of("bwrap", "--unshare-user", "--unshare-pid", "--unshare-net",
                "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev", "--"));
        bwrap.addAll(command);
        ProcessBuilder builder = new ProcessBuilder(bwrap).redirectErrorStream(true);
        builder.environment().clear();
        builder.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        long t = System.nanoTime();
        Process p = builder.start();
        p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("the baseline failed: " + String.join(" ", bwrap));
        }
        return System.nanoTime() - t;
    }

    private static String loadAverage() {
        try {
            String[] parts = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return parts[0] + " " + parts[1] + " " + parts[2];
        } catch (Exception e) {
            return "unknown";
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
