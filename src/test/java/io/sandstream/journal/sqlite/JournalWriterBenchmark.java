package io.sandstream.journal.sqlite;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.TestConfigs;
import io.sandstream.journal.JournalEntry;
import io.sandstream.model.ExecutionIds;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.model.ResultDocument;
import io.sandstream.model.Tenant;
import io.sandstream.results.sqlite.SqliteResultStore;
import io.sandstream.tenancy.TenantQuotas;

/**
 * Journal writer benchmark, not a test: excluded from the suite, run with
 * {@code ./mvnw -Pbench verify -Dtest=JournalWriterBenchmark -Dsurefire.failIfNoSpecifiedTests=false}.
 * Drives the SQLite journal and the result store in its file (the service's layout) with the
 * steady-state pipeline's writes, without the service around them: per round one append of 50
 * events, 36 starts ({@code claim}) and 36 results (each finishing its entry), so 1.4 appends per
 * execution and a backlog as under the pipeline benchmark's push. Prints, per execution, the
 * writer thread's CPU time and its I/O from {@code /proc/self/task/<tid>/io} (which do not depend
 * on the machine's load), for each setting in turn, several times interleaved.
 */
class JournalWriterBenchmark {

    private static final int BATCH = 50;
    private static final int RUNS_PER_ROUND = 36;
    private static final int IN_FLIGHT = 16;
    private static final int WARM_ROUNDS = Integer.getInteger("bench.warm-rounds", 1500);
    private static final int ROUNDS = Integer.getInteger("bench.rounds", 1500);

    @TempDir
    Path dir;

    @Test
    void measure() throws Exception {
        // SQLite's defaults (2 MiB cache, a checkpoint every 1000 pages) against the service's.
        List<Map<String, String>> settings = List.of(
                Map.of("sandstream.journal.cache-mib", "2", "sandstream.journal.checkpoint-mib", "4"),
                Map.of("sandstream.journal.cache-mib", "32", "sandstream.journal.checkpoint-mib", "4"),
                Map.of());
        for (int repeat = 0; repeat < Integer.getInteger("bench.repeats", 2); repeat++) {
            for (int i = 0; i < settings.size(); i++) {
                System.out.println("BENCH " + run(dir.resolve(repeat + "-" + i), settings.get(i)) + " " + settings.get(i));
            }
        }
    }

    private String run(Path data, Map<String, String> settings) throws Exception {
        Files.createDirectories(data);
        Map<String, String> all = new java.util.HashMap<>(settings);
        all.put("sandstream.data-dir", data.toString());
        all.put("sandstream.journal.max-pending", "10000000");
        SandstreamConfig config = TestConfigs.sandstream(all);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        SqliteJournal journal = new SqliteJournal(config, new DataDirectory(config), registry, new TenantQuotas(config, registry));
        journal.open();
        SqliteResultStore store = SqliteResultStore.shared(journal.file(), journal.writer(), journal::finishIn);
        store.open();
        journal.finishWithResults();
        try {
            Workload workload = new Workload(journal, store);
            workload.rounds(WARM_ROUNDS);
            String tid = writerTid();
            ThreadMXBean threads = ManagementFactory.getThreadMXBean();
            long threadId = writerThread().getId();
            long cpu0 = threads.getThreadCpuTime(threadId);
            long[] io0 = io(tid);
            double commits0 = registry.get("sandstream.journal.commit").timer().count();
            workload.rounds(ROUNDS);
            long cpu1 = threads.getThreadCpuTime(threadId);
            long[] io1 = io(tid);
            double commits = registry.get("sandstream.journal.commit").timer().count() - commits0;
            double executions = (double) ROUNDS * RUNS_PER_ROUND;
            return String.format("writer cpu ms/exec %.4f | write calls %.2f bytes written %.0f | read calls %.2f bytes read %.0f"
                    + " | commits/exec %.3f", (cpu1 - cpu0) / 1e6 / executions, (io1[3] - io0[3]) / executions,
                    (io1[1] - io0[1]) / executions, (io1[2] - io0[2]) / executions, (io1[0] - io0[0]) / executions,
                    commits / executions);
        } finally {
            store.close();
            journal.close();
        }
    }

    /** The pipeline's writes in order: appends ahead of the starts, results {@value #IN_FLIGHT} starts behind. */
    private static final class Workload {
        final SqliteJournal journal;
        final SqliteResultStore store;
        final List<String> appended = new ArrayList<>();
        int started;
        int events;

        Workload(SqliteJournal journal, SqliteResultStore store) {
            this.journal = journal;
            this.store = store;
        }

        void rounds(int count) {
            for (int round = 0; round < count; round++) {
                List<CompletableFuture<?>> waits = new ArrayList<>();
                List<JournalEntry> batch = new ArrayList<>();
                for (int i = 0; i < BATCH; i++) {
                    batch.add(event(events++));
                }
                batch.forEach(e -> appended.add(e.executionId()));
                waits.add(journal.append(batch).subscribeAsCompletionStage());
                for (int i = 0; i < RUNS_PER_ROUND; i++) {
                    journal.claim(appended.get(started));
                    if (started >= IN_FLIGHT) {
                        waits.add(store.put(result(appended.get(started - IN_FLIGHT))).subscribeAsCompletionStage());
                    }
                    started++;
                }
                waits.forEach(CompletableFuture::join);
            }
        }
    }

    /** An event as the ingest benchmark sends it: a trivial snippet in one of 16 sessions of 8 tenants. */
    private static JournalEntry event(int n) {
        String id = "bench-" + n;
        String source = "/bench/tenant-" + n % 8;
        String json = "{\"specversion\":\"1.0\",\"id\":\"" + id + "\",\"source\":\"" + source
                + "\",\"type\":\"io.sandstream.code.execute\",\"subject\":\"code-execution/bench\","
                + "\"data\":{\"code\":\"1+1\",\"sessionId\":\"bench-" + n % 16 + "\"}}";
        return new JournalEntry(ExecutionIds.of(source, id), id, source, "io.sandstream.code.execute", "code-execution/bench",
                "bench-" + n % 16, Priority.NORMAL, JournalEntry.State.QUEUED, Instant.now(),
                json.getBytes(StandardCharsets.UTF_8), null, Tenant.SHARED);
    }

    private static ResultDocument result(String executionId) {
        Instant now = Instant.now();
        return ResultDocument.builder().executionId(executionId).event("e", "/bench/tenant-1", "code-execution/bench",
                "io.sandstream.code.execute").language(Language.PYTHON).priority(Priority.NORMAL).backend("local")
                .status(ExecutionStatus.Succeeded).output("2\n", "").timings(ResultDocument.Timings.ran(now, now, now, 1))
                .attempt(1).build();
    }

    private static Thread writerThread() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("journal-writer") && t.isAlive())
                .findFirst().orElseThrow();
    }

    private static String writerTid() throws Exception {
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            return tasks.filter(t -> {
                try {
                    return Files.readString(t.resolve("comm")).strip().equals("journal-writer");
                } catch (java.io.IOException e) {
                    return false;
                }
            }).map(t -> t.getFileName().toString()).findFirst().orElseThrow();
        }
    }

    /** rchar, wchar, syscr, syscw of one thread. */
    private static long[] io(String tid) throws Exception {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/task", tid, "io"));
        long[] values = new long[4];
        for (int i = 0; i < 4; i++) {
            values[i] = Long.parseLong(lines.get(i).split(": ")[1].strip());
        }
        return values;
    }
}
