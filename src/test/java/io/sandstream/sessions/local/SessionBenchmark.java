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
 * application.properties), the cold start of its sandbox and a warm hello world, against a plain
 * {@code bwrap} running the same hello world per execution (compiled languages: compile + run),
 * measured in the same run ({@code -Dbench.languages-only}: that table alone).
 */
class SessionBenchmark {

    private static final long FIRST_UID = 310_000;
    private static final int READY = 8;

    @TempDir
    Path dir;

    /** Cold starts and baseline runs per language, at most. */
    private static final int COLD_RUNS = 21;
    /** Warm executions per language, at most. */
    private static final int WARM_RUNS = 300;

    @Test
    void measure() throws Exception {
        Map<String, String> languages = configuredPools();
        // -Dbench.languages=python,javascript: only those pools' rows (a quick look at one runner).
        String only = System.getProperty("bench.languages", "");
        if (!only.isBlank()) {
            languages.keySet().retainAll(List.of(only.split(",")));
        }
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
                System.out.printf("memory per idle ready sandbox:%s%n", memoryPerSandbox());
                perLanguage(fixture, languages, dir);
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
            System.out.printf("memory per idle ready sandbox:%s%n", memoryPerSandbox());

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
            perLanguage(fixture, languages, dir);
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

    /** Where a language's row stops taking more samples (with at least {@link #MIN_RUNS}): compiled languages take seconds per run. */
    private static final long PHASE_NANOS = TimeUnit.SECONDS.toNanos(25);
    private static final int MIN_RUNS = 5;

    /**
     * The hello world each language runs, warm and in the baseline: the script languages' own from
     * {@link ScriptLanguagesTest}, and the same for the two stateful runners.
     */
    private static String hello(String language) {
        return switch (language) {
            case "python" -> "print('hello')";
            case "javascript" -> "console.log('hello')";
            default -> ScriptLanguagesTest.CASES.get(language).hello();
        };
    }

    /**
     * The baseline per language: a plain bwrap, started for one execution, running the hello world
     * from {@code /src} as the sandbox's runner would (same interpreter; for compiled languages the
     * same compile command, into a fresh /tmp, then the program). Null for a language without one.
     */
    private static Baseline baseline(SandstreamConfig config, String language) {
        return switch (language) {
            // As the sandbox runs it (-S: no site, no .pth file); plain -I, which runs site and every
            // .pth file of the host, is measured beside it (PYTHON_WITH_SITE).
            case "python" -> new Baseline("main.py", List.of(config.sessions().python(), "-I", "-S", "/src/main.py"));
            case "javascript" -> new Baseline("main.js", List.of(config.sessions().node(), "/src/main.js"));
            case "bash" -> new Baseline("main.sh", List.of("/usr/bin/bash", "/src/main.sh"));
            case "ruby" -> new Baseline("main.rb", List.of("/usr/bin/ruby", "/src/main.rb"));
            case "c" -> Baseline.compiled("main.c", "gcc -O1 -pipe -o /tmp/main /src/main.c -lm && /tmp/main");
            case "cpp" -> Baseline.compiled("main.cpp", "g++ -O1 -pipe -o /tmp/main /src/main.cpp && /tmp/main");
            case "go" -> Baseline.compiled("main.go", "go build -o /tmp/main /src/main.go && /tmp/main");
            case "java" -> new Baseline("Main.java", List.of("/usr/bin/java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-XX:-UsePerfData", "-Xss1m", "/src/Main.java"));
            case "typescript" -> Baseline.compiled("main.ts", "tsc --target es2022 --module commonjs --strict false --skipLibCheck"
                    + " --outDir /tmp/out /src/main.ts && node /tmp/out/main.js");
            default -> null;
        };
    }

    /** The Python baseline as most services run it: site and the host's .pth files included. */
    private static List<String> pythonWithSite(SandstreamConfig config) {
        return List.of(config.sessions().python(), "-I", "/src/main.py");
    }

    private record Baseline(String file, List<String> command) {
        static Baseline compiled(String file, String script) {
            return new Baseline(file, List.of("/bin/sh", "-c", script));
        }
    }

    /**
     * Per configured pool: the cold start of one sandbox (Sandbox.start: FIFO, cgroups, the launch
     * chain, bwrap, the runner, its ready message) and a hello world in a warm session, each against
     * the same baseline, measured in this run and interleaved with the cold starts: a plain bwrap
     * (user, pid and net namespaces; /usr read-only; a fresh /tmp; /proc, /dev) started from this
     * JVM for one execution of the same hello world (compiled languages: compile + run).
     */
    private static void perLanguage(PoolFixture fixture, Map<String, String> languages, Path dir) throws Exception {
        System.out.printf("%ncold start and warm hello world per configured local pool, each against the baseline: a plain bwrap"
                + " per execution running the same hello world (compiled languages: compile + run), same run, interleaved"
                + " (load average %s)%n", loadAverage());
        System.out.printf("%-11s %-20s %-20s %-20s %-9s %-9s %s%n", "language", "cold start p50/p99", "warm exec p50/p99",
                "baseline p50/p99", "cold/base", "warm/base", "runs (cold, warm, baseline); baseline command");
        SandstreamConfig config = fixture.config;
        for (var entry : languages.entrySet()) {
            String name = entry.getKey();
            SandstreamConfig.Pool poolConfig = config.pools().get(name);
            String language = poolConfig.language().wireName();
            Runner runner;
            Baseline baseline = baseline(config, language);
            try {
                runner = Runner.of(name, poolConfig.language());
            } catch (IllegalArgumentException e) {
                System.out.printf("%-11s no local runner: %s%n", language, e.getMessage());
                continue;
            }
            if (baseline == null) {
                System.out.printf("%-11s no baseline here for this language%n", language);
                continue;
            }
            Path source = Files.createDirectories(dir.resolve("baseline-" + language));
            Files.writeString(source.resolve(baseline.file()), hello(language));
            List<Long> cold = new ArrayList<>();
            List<Long> bare = new ArrayList<>();
            List<Long> withSite = new ArrayList<>();
            long phase = System.nanoTime();
            for (int i = 0; i < COLD_RUNS && (i < MIN_RUNS || System.nanoTime() - phase < PHASE_NANOS); i++) {
                bare.add(plainBwrap(source, baseline.command()));
                if (language.equals("python")) {
                    withSite.add(plainBwrap(source, pythonWithSite(config)));
                }
                long t = System.nanoTime();
                Sandbox sandbox = Sandbox.start(fixture.launcher, runner, poolConfig.limits(), Duration.ofSeconds(1),
                        fixture.timers, fixture.registry.counter("test.output.read"));
                cold.add(System.nanoTime() - t);
                sandbox.kill(null);
            }
            LocalSessionPool pool = name.equals("python") ? fixture.python : name.equals("javascript") ? fixture.javascript
                    : new LocalSessionPool(name, poolConfig, fixture.launcher, config.sessions().interruptGrace(), fixture.workers,
                            fixture.timers, fixture.registry, new TenantQuotas(config, fixture.registry));
            pool.startMaintenance();
            List<Long> warm = new ArrayList<>();
            String code = hello(language);
            String failed = null;
            try {
                for (int i = 0; i < 3; i++) { // the session's sandbox, and the JIT, warmed
                    PoolFixture.run(pool, "bench-" + name, code, 60);
                }
                phase = System.nanoTime();
                for (int i = 0; i < WARM_RUNS && (i < MIN_RUNS || System.nanoTime() - phase < PHASE_NANOS); i++) {
                    long t = System.nanoTime();
                    ExecutionResult r = PoolFixture.run(pool, "bench-" + name, code, 60);
                    warm.add(System.nanoTime() - t);
                    if ((r.status() != ExecutionResult.Status.Succeeded || !r.stdout().equals("hello\n")) && failed == null) {
                        failed = r.status() + " " + r.errorType() + " " + r.stdout() + r.stderr();
                    }
                }
            } finally {
                if (pool != fixture.python && pool != fixture.javascript) {
                    pool.shutdown();
                }
            }
            double bareP50 = percentile(bare, 0.5);
            System.out.printf("%-11s %7.1f / %7.1f ms  %7.1f / %7.1f ms  %7.1f / %7.1f ms  %6.2fx   %7.3fx   %d, %d, %d; %s%n",
                    language, percentile(cold, 0.5) / 1e6, percentile(cold, 0.99) / 1e6, percentile(warm, 0.5) / 1e6,
                    percentile(warm, 0.99) / 1e6, bareP50 / 1e6, percentile(bare, 0.99) / 1e6, percentile(cold, 0.5) / bareP50,
                    percentile(warm, 0.5) / bareP50, cold.size(), warm.size(), bare.size(), String.join(" ", baseline.command()));
            if (!withSite.isEmpty()) {
                double siteP50 = percentile(withSite, 0.5);
                System.out.printf("%-11s   baseline with site and the host's .pth files: %7.1f / %7.1f ms; cold start %.2fx it; %d runs; %s%n",
                        "", siteP50 / 1e6, percentile(withSite, 0.99) / 1e6, percentile(cold, 0.5) / siteP50, withSite.size(),
                        String.join(" ", pythonWithSite(config)));
            }
            if (failed != null) {
                System.out.printf("%-11s   (the hello world did not succeed: %s)%n", "", failed.strip());
            }
        }
        System.out.printf("(load average at the end: %s)%n", loadAverage());
    }

    /** The environment the script runner gives its children (toolchain caches in /tmp), for the baseline too. */
    private static final Map<String, String> TOOLCHAIN_ENV = Map.of("PATH", "/usr/local/bin:/usr/bin:/bin", "HOME", "/tmp",
            "LANG", "C.UTF-8", "GOCACHE", "/tmp/.cache/go-build", "GOPATH", "/tmp/go", "GOPROXY", "off",
            "GO111MODULE", "off", "GOTELEMETRY", "off", "CGO_ENABLED", "0");

    /** Wall time of a plain bwrap running {@code command} over {@code source} (read-only at /src) from this JVM to its exit. */
    private static long plainBwrap(Path source, List<String> command) throws Exception {
        List<String> bwrap = new ArrayList<>(List.of("bwrap", "--unshare-user", "--unshare-pid", "--unshare-net",
                "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                "--symlink", "usr/bin", "/bin", "--ro-bind", source.toString(), "/src", "--tmpfs", "/tmp",
                "--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"));
        // The JDK's configuration and the alternatives links, as the sandboxes bind them.
        try (var etc = Files.list(Path.of("/etc"))) {
            etc.filter(p -> p.getFileName().toString().startsWith("java-") || p.getFileName().toString().equals("alternatives"))
                    .forEach(p -> bwrap.addAll(List.of("--ro-bind", p.toString(), p.toString())));
        }
        bwrap.add("--");
        bwrap.addAll(command);
        ProcessBuilder builder = new ProcessBuilder(bwrap).redirectErrorStream(true);
        builder.environment().clear();
        builder.environment().putAll(TOOLCHAIN_ENV);
        long t = System.nanoTime();
        Process p = builder.start();
        String output = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0 || !output.equals("hello\n")) {
            throw new IllegalStateException("the baseline failed: " + String.join(" ", bwrap) + ": " + output);
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

    /**
     * RSS and PSS of the idle ready sandboxes, per runner: each sandbox is the processes of one
     * sandbox uid (bwrap, its init, the runner); PSS shares the pages they have in common.
     */
    private static String memoryPerSandbox() throws Exception {
        Map<Long, long[]> byUid = new HashMap<>(); // RSS, PSS of the bwrap processes, PSS of the runner (KiB)
        Map<Long, String> runnerByUid = new HashMap<>();
        for (ProcessHandle p : ProcessHandle.allProcesses().toList()) {
            List<String> lines;
            String[] argv;
            long pss;
            try {
                lines = Files.readAllLines(Path.of("/proc/" + p.pid() + "/status"));
                argv = new String(Files.readAllBytes(Path.of("/proc/" + p.pid() + "/cmdline"))).split("\0");
                pss = kib(Files.readAllLines(Path.of("/proc/" + p.pid() + "/smaps_rollup")), "Pss:");
            } catch (Exception e) {
                continue; // ended meanwhile
            }
            long uid = lines.stream().filter(l -> l.startsWith("Uid:")).mapToLong(l -> Long.parseLong(l.split("\\s+")[1]))
                    .findFirst().orElse(-1);
            if (uid < FIRST_UID || uid >= FIRST_UID + 4096) {
                continue;
            }
            long[] memory = byUid.computeIfAbsent(uid, u -> new long[3]);
            memory[0] += kib(lines, "VmRSS:");
            boolean bwrap = argv[0].endsWith("bwrap");
            memory[bwrap ? 1 : 2] += pss;
            if (!bwrap) {
                String runner = List.of(argv).contains("/opt/sandstream/runner.pyc") ? "python"
                        : List.of(argv).contains("/opt/sandstream/runner.js") ? "javascript" : "script runner";
                runnerByUid.putIfAbsent(uid, runner);
            }
        }
        Map<String, long[]> byRunner = new LinkedHashMap<>(); // sandboxes, RSS, PSS of bwrap, PSS of the runner
        byUid.forEach((uid, memory) -> {
            long[] sum = byRunner.computeIfAbsent(runnerByUid.getOrDefault(uid, "starting"), r -> new long[4]);
            sum[0]++;
            for (int i = 0; i < 3; i++) {
                sum[i + 1] += memory[i];
            }
        });
        StringBuilder out = new StringBuilder();
        byRunner.forEach((runner, sum) -> out.append(String.format(
                "%n  %-13s RSS %5.1f MiB, PSS %5.1f MiB (bwrap and its init %4.1f, the runner %4.1f), mean of %d",
                runner, sum[1] / 1024.0 / sum[0], (sum[2] + sum[3]) / 1024.0 / sum[0], sum[2] / 1024.0 / sum[0],
                sum[3] / 1024.0 / sum[0], sum[0])));
        return out.toString();
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
