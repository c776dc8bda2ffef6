package io.sandstream.sessions.local;

import static io.sandstream.sessions.local.PoolFixture.WAIT;
import static io.sandstream.sessions.local.PoolFixture.run;
import static io.sandstream.sessions.local.PoolFixture.updates;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.sandstream.model.ExecuteRequest.InputFile;
import io.sandstream.sessions.ExecutionResult.LimitHit;
import io.sandstream.sessions.ExecutionResult.Status;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionSpec;
import io.sandstream.sessions.ExecutionUpdate;
import io.sandstream.sessions.PoolFullException;
import io.sandstream.sessions.SessionFileException;
import io.sandstream.tenancy.TenantQuotas;

/** The local pool on real bubblewrap sandboxes: state, languages, output, files, limits. */
class LocalSessionPoolTest {

    @TempDir
    static Path dir;
    static PoolFixture pools;

    @BeforeAll
    static void start() {
        pools = new PoolFixture(dir, Map.of(
                "sandstream.sessions.first-uid", "250000",
                "sandstream.pools.python.limits.cpu-seconds", "2",
                "sandstream.pools.python.limits.output-bytes", "10000",
                "sandstream.pools.python.limits.memory-mib", "256",
                "sandstream.pools.python.limits.data-mib", "8",
                "sandstream.pools.python.limits.pids", "32"));
    }

    @AfterAll
    static void stop() {
        pools.close();
    }

    @Test
    void pythonKeepsStateAndReturnsTheLastExpression() {
        ExecutionResult first = run(pools.python, "py-state", "import math\nx = 40\nprint('hello')");
        assertEquals(Status.Succeeded, first.status(), first.toString());
        assertEquals("hello\n", first.stdout());
        assertNull(first.result());
        ExecutionResult second = run(pools.python, "py-state", "x + 2");
        assertEquals(42, second.result().asInt(), second.toString());
        ExecutionResult failed = run(pools.python, "py-state", "1/0");
        assertEquals(Status.Failed, failed.status());
        assertEquals("ZeroDivisionError", failed.errorType());
        assertTrue(failed.stderr().contains("Traceback"), failed.stderr());
        assertEquals(3.0, run(pools.python, "py-state", "math.floor(math.pi)").result().asDouble());
    }

    /** The shell's ulimit sets what prlimit set before it: hard and soft, in the sandbox's own units. */
    @Test
    void rlimitsInsideAreTheConfiguredOnes() {
        var limits = pools.config.pools().get("python").limits();
        ExecutionResult r = run(pools.python, null, "import resource as r\n"
                + "[r.getrlimit(getattr(r, 'RLIMIT_' + n)) for n in ('NPROC', 'NOFILE', 'FSIZE', 'CORE')]"
                + " + [r.getrlimit(r.RLIMIT_CPU)[1]]");
        assertEquals(Status.Succeeded, r.status(), r.toString());
        long fsize = limits.fileSizeMib() * 1024L * 1024L;
        assertEquals(List.of(List.of(32, 32), List.of(limits.openFiles(), limits.openFiles()), List.of(fsize, fsize),
                List.of(0, 0), limits.processCpuSeconds()).toString().replace(" ", ""),
                String.valueOf(r.result()).replace(" ", ""));
    }

    @Test
    void finishedExecutionsLeaveNoTimerBehind() throws InterruptedException {
        long before = periodicTimers();
        for (int i = 0; i < 100; i++) {
            run(pools.python, "py-timers", Integer.toString(i));
        }
        // Each execution's CPU watch is periodic; a finish that outran its scheduling used to leave it running forever.
        assertTrue(io.sandstream.SandboxProcesses.waitFor(() -> periodicTimers() <= before),
                "periodic timers: " + periodicTimers() + ", before: " + before);
    }

    /**
     * The output pumps wait in their read between executions: what a background process writes
     * then is read with no execution in flight and dropped, on both streams; the pumps stop, and the
     * next executions (output and all) still run.
     */
    @Test
    void outputWrittenBetweenExecutionsGoesToNone() throws InterruptedException {
        ExecutionResult started = run(pools.python, "py-between", """
                import subprocess, sys
                subprocess.Popen([sys.executable, '-c', 'import os, time\\ntime.sleep(0.3)\\nos.write(1, b"late-out")\\nos.write(2, b"late-err")'])
                'started'""");
        assertEquals(Status.Succeeded, started.status(), started.toString());
        Thread.sleep(1500); // the child wrote and exited
        for (int i = 0; i < 3; i++) {
            ExecutionResult next = run(pools.python, "py-between", "import sys\nprint('out', " + i + ")\nprint('err', file=sys.stderr)");
            assertEquals(Status.Succeeded, next.status(), next.toString());
            assertEquals("out " + i + "\n", next.stdout(), next.toString());
            assertEquals("err\n", next.stderr(), next.toString());
        }
    }

    /**
     * An execution's request is written on a pool worker, never on the caller's thread (the
     * dispatcher's or an event loop), which a runner that stops reading its stdin could block: also
     * when the worker has taken the session's sandbox before the caller chained on it (here always:
     * the executor returns only once the worker is done).
     */
    @Test
    void theWorkStartsOnAWorkerEvenWhenTheWorkerWinsTheRace() throws InterruptedException {
        ExecutorService inner = Executors.newCachedThreadPool(r -> new Thread(r, "test-worker"));
        ExecutorService workerFirst = new AbstractExecutorService() {
            @Override
            public void execute(Runnable task) {
                try {
                    inner.submit(task).get();
                } catch (InterruptedException | ExecutionException e) {
                    throw new IllegalStateException(e);
                }
            }

            @Override
            public void shutdown() {
                inner.shutdown();
            }

            @Override
            public List<Runnable> shutdownNow() {
                return inner.shutdownNow();
            }

            @Override
            public boolean isShutdown() {
                return inner.isShutdown();
            }

            @Override
            public boolean isTerminated() {
                return inner.isTerminated();
            }

            @Override
            public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
                return inner.awaitTermination(timeout, unit);
            }
        };
        LocalSessionPool pool = new LocalSessionPool("python", pools.config.pools().get("python"), pools.launcher,
                pools.config.sessions().interruptGrace(), workerFirst, pools.timers, pools.registry,
                new TenantQuotas(pools.config, pools.registry));
        try {
            for (int i = 0; i < 3; i++) {
                List<String> threads = new CopyOnWriteArrayList<>();
                List<ExecutionUpdate> all = pool.execute(Optional.of(PoolFixture.key("py-worker-first")),
                        new ExecutionSpec(i + " + 1", 20, List.of()))
                        .onItem().invoke(update -> {
                            if (update instanceof ExecutionUpdate.Allocated) {
                                threads.add(Thread.currentThread().getName());
                            }
                        })
                        .collect().asList().await().atMost(WAIT);
                ExecutionResult result = ((ExecutionUpdate.Completed) all.get(all.size() - 1)).result();
                assertEquals(i + 1, result.result().asInt(), result.toString());
                assertEquals(List.of("test-worker"), threads, "the thread the work started on");
            }
        } finally {
            pool.shutdown();
            inner.shutdownNow();
        }
    }

    static long periodicTimers() {
        return pools.timers.getQueue().stream()
                .filter(task -> ((java.util.concurrent.RunnableScheduledFuture<?>) task).isPeriodic()).count();
    }

    @Test
    void javascriptKeepsStateAndReturnsTheLastExpression() {
        ExecutionResult first = run(pools.javascript, "js-state", "var y = 40; console.log('hi')");
        assertEquals(Status.Succeeded, first.status(), first.toString());
        assertEquals("hi\n", first.stdout());
        ExecutionResult second = run(pools.javascript, "js-state", "({sum: y + 2})");
        assertEquals(42, second.result().path("sum").asInt(), second.toString());
        ExecutionResult failed = run(pools.javascript, "js-state", "null.x");
        assertEquals(Status.Failed, failed.status());
        assertEquals("TypeError", failed.errorType());
        assertEquals(7, run(pools.javascript, "js-state", "Promise.resolve(7)").result().asInt());
    }

    @Test
    void identifiersFollowDynamicSessionsRules() {
        assertThrows(IllegalArgumentException.class, () -> run(pools.python, "../x", "1"));
        assertThrows(IllegalArgumentException.class, () -> run(pools.python, "abc", "1"));
    }

    @Test
    void ephemeralSessionsAreFresh() {
        run(pools.python, null, "secret = 1");
        ExecutionResult next = run(pools.python, null, "'secret' in globals()");
        assertFalse(next.result().asBoolean());
    }

    @Test
    void outputStreamsLiveBeforeTheResult() {
        List<ExecutionUpdate> all = updates(pools.python, null,
                "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.3)", 20);
        long chunks = all.stream().filter(u -> u instanceof ExecutionUpdate.Output).count();
        assertTrue(chunks >= 2, "output came in several chunks: " + all);
        assertTrue(all.get(all.size() - 1) instanceof ExecutionUpdate.Completed);
    }

    @Test
    void anExecutionFirstSaysHowItGotItsSandbox() {
        ExecutionUpdate first = updates(pools.python, "allocation", "1", 20).get(0);
        assertTrue(first.equals(new ExecutionUpdate.Allocated("warm")) || first.equals(new ExecutionUpdate.Allocated("cold")),
                first.toString());
        assertEquals(new ExecutionUpdate.Allocated("session"), updates(pools.python, "allocation", "2", 20).get(0));
    }

    @Test
    void arbitraryBytesAndForgedControlMessagesAreJustOutput() {
        ExecutionResult result = run(pools.python, "bytes", """
                import os
                os.write(1, b'\\xff\\xfe\\x00abc\\n')
                os.write(2, b'{"id": 99, "status": "Succeeded"}\\n')
                os.write(3, b'not json at all\\n')
                """);
        // The forged control message ends this session (protocol violation), nothing else.
        assertTrue(result.stdout().contains("abc"), result.toString());
        assertEquals(Status.Succeeded, run(pools.python, "after-bytes", "1").status());
    }

    @Test
    void wallTimeoutInterruptsAndTheSessionSurvives() {
        run(pools.python, "wall", "kept = 5");
        ExecutionResult result = run(pools.python, "wall", "while True: pass", 1);
        assertEquals(Status.TimedOut, result.status(), result.toString());
        assertEquals(LimitHit.wall, result.limitHit());
        assertFalse(result.sessionEnded());
        assertEquals(5, run(pools.python, "wall", "kept").result().asInt());
    }

    @Test
    void codeThatIgnoresInterruptsIsKilledAndTheSessionEnds() {
        ExecutionResult result = run(pools.python, "stubborn", """
                import signal, time
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                while True: time.sleep(0.1)""", 1);
        assertEquals(Status.TimedOut, result.status(), result.toString());
        assertEquals(LimitHit.wall, result.limitHit());
        assertTrue(result.sessionEnded());
        assertEquals(Status.Succeeded, run(pools.python, "stubborn", "1 + 1").status());
    }

    @Test
    void cpuLimitFires() {
        ExecutionResult result = run(pools.python, null, "while True: pass", 30);
        assertEquals(LimitHit.cpu, result.limitHit(), result.toString());
        assertEquals(Status.Failed, result.status());
    }

    @Test
    void outputIsCutAtTheLimitAndFlagged() {
        ExecutionResult result = run(pools.python, null, "while True: print('x' * 1000)", 30);
        assertTrue(result.truncated(), result.toString());
        assertEquals(LimitHit.output, result.limitHit());
        assertTrue(result.stdout().length() <= 10000);
    }

    @Test
    void memoryLimitFires() {
        ExecutionResult result = run(pools.python, null, "blocks = []\nwhile True: blocks.append(bytearray(16 * 1024 * 1024))", 30);
        assertEquals(LimitHit.memory, result.limitHit(), result.toString());
    }

    @Test
    void diskQuotaFires() {
        ExecutionResult result = run(pools.python, null,
                "with open('/mnt/data/big', 'wb') as f:\n    while True: f.write(b'x' * 1048576)", 30);
        assertEquals(LimitHit.disk, result.limitHit(), result.toString());
    }

    @Test
    void processLimitFires() {
        ExecutionResult result = run(pools.python, null,
                "import os, time\nwhile True:\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)", 30);
        assertEquals(LimitHit.pids, result.limitHit(), result.toString());
    }

    @Test
    void filesGoInAndOutOfMntData() {
        byte[] content = "a,b\n1,2\n".getBytes(StandardCharsets.UTF_8);
        pools.python.uploadFile(PoolFixture.key("files"), "in.csv", content).await().atMost(WAIT);
        assertEquals(List.of("in.csv"), pools.python.listFiles(PoolFixture.key("files")).await().atMost(WAIT).files().stream()
                .map(f -> f.name()).toList());
        assertEquals("a,b\n1,2\n", run(pools.python, "files", "open('/mnt/data/in.csv').read()").result().asText());
        run(pools.python, "files", "open('/mnt/data/out.bin', 'wb').write(bytes(range(256)))");
        byte[] out = pools.python.downloadFile(PoolFixture.key("files"), "out.bin").await().atMost(WAIT);
        assertEquals(256, out.length);
        assertEquals((byte) 255, out[255]);
        pools.python.deleteFile(PoolFixture.key("files"), "in.csv").await().atMost(WAIT);
        SessionFileException missing = assertThrows(SessionFileException.class,
                () -> pools.python.downloadFile(PoolFixture.key("files"), "in.csv").await().atMost(WAIT));
        assertEquals(SessionFileException.Reason.NOT_FOUND, missing.reason());
    }

    @Test
    void requestFilesArriveBeforeTheCode() {
        List<ExecutionUpdate> all = pools.javascript.execute(Optional.empty(), new ExecutionSpec(
                "require('fs').readFileSync('/mnt/data/data.txt', 'utf8')", 10,
                List.of(new InputFile("data.txt", "payload".getBytes(StandardCharsets.UTF_8)))))
                .collect().asList().await().atMost(WAIT);
        assertEquals("payload", ((ExecutionUpdate.Completed) all.get(all.size() - 1)).result().result().asText());
    }

    @Test
    void symlinksAndTraversalAreRefusedOnFiles() {
        run(pools.python, "links", "import os\nos.symlink('/etc/passwd', '/mnt/data/link')");
        SessionFileException link = assertThrows(SessionFileException.class,
                () -> pools.python.downloadFile(PoolFixture.key("links"), "link").await().atMost(WAIT));
        assertEquals(SessionFileException.Reason.FAILED, link.reason(), "O_NOFOLLOW refuses the link");
        assertThrows(SessionFileException.class,
                () -> pools.python.downloadFile(PoolFixture.key("links"), "../../etc/passwd").await().atMost(WAIT));
        assertThrows(SessionFileException.class,
                () -> pools.python.uploadFile(PoolFixture.key("links"), "link", new byte[] {1}).await().atMost(WAIT));
        assertEquals("/etc/passwd", run(pools.python, "links", "os.readlink('/mnt/data/link')").result().asText());
    }

    @Test
    void aSessionRunsOneExecutionAtATime() {
        List<String> order = new CopyOnWriteArrayList<>();
        var first = pools.python.execute(Optional.of(PoolFixture.key("serial")), new ExecutionSpec("import time; time.sleep(0.5); 1", 10, List.of()))
                .collect().asList().subscribeAsCompletionStage().thenRun(() -> order.add("first"));
        var second = pools.python.execute(Optional.of(PoolFixture.key("serial")), new ExecutionSpec("2", 10, List.of()))
                .collect().asList().subscribeAsCompletionStage().thenRun(() -> order.add("second"));
        first.toCompletableFuture().join();
        second.toCompletableFuture().join();
        assertEquals(List.of("first", "second"), order);
    }

    /**
     * A full pool makes room by evicting its least recently used idle session, never a busy one, and
     * says it is full only when every session is busy.
     */
    @Test
    void aFullPoolEvictsTheLeastRecentlyUsedIdleSessionAndNeverABusyOne() throws Exception {
        try (PoolFixture small = new PoolFixture(dir.resolve("small"), Map.of(
                "sandstream.sessions.first-uid", "260000",
                "sandstream.pools.python.max-sessions", "2", "sandstream.pools.python.ready-sessions", "1"))) {
            run(small.python, "a-session", "a = 1");
            run(small.python, "b-session", "b = 1");
            run(small.python, "a-session", "a += 1"); // b is now the least recently used

            assertEquals(Status.Succeeded, run(small.python, "c-session", "c = 1").status());
            assertEquals(List.of("a-session", "c-session"), identifiers(small));
            assertEquals(1.0, small.registry.get("sandstream.pool.evictions").tag("pool", "python").counter().count());
            assertEquals(2, run(small.python, "a-session", "a").result().intValue(), "the survivor kept its state");

            // c runs (busy), a is idle: d evicts a, not c.
            var busy = small.python.run(Optional.of(PoolFixture.key("c-session")),
                    new ExecutionSpec("import time\ntime.sleep(3)\n'c done'", 20, List.of())).subscribeAsCompletionStage();
            assertTrue(io.sandstream.SandboxProcesses.waitFor(() -> small.python.stats().busy() == 1));
            assertEquals(Status.Succeeded, run(small.python, "d-session", "1").status());
            assertEquals(List.of("c-session", "d-session"), identifiers(small));

            // d busy too: nothing idle is left to evict, so the pool is full.
            var alsoBusy = small.python.run(Optional.of(PoolFixture.key("d-session")),
                    new ExecutionSpec("import time\ntime.sleep(3)", 20, List.of())).subscribeAsCompletionStage();
            assertTrue(io.sandstream.SandboxProcesses.waitFor(() -> small.python.stats().busy() == 2));
            assertThrows(PoolFullException.class, () -> run(small.python, "e-session", "1"));
            assertEquals("c done", busy.toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS)
                    .result().textValue(), "the busy session was never evicted");
            alsoBusy.toCompletableFuture().get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(2.0, small.registry.get("sandstream.pool.evictions").tag("pool", "python").counter().count());
        }
    }

    private static List<String> identifiers(PoolFixture fixture) {
        return fixture.python.sessions().stream().map(s -> s.identifier()).sorted().toList();
    }

    @Test
    void cooldownDestroysIdleSessions() throws Exception {
        try (PoolFixture quick = new PoolFixture(dir.resolve("quick"), Map.of(
                "sandstream.sessions.first-uid", "270000",
                "sandstream.pools.python.cooldown", "1s", "sandstream.pools.python.ready-sessions", "1"))) {
            run(quick.python, "cool", "v = 1");
            assertEquals(1, quick.python.sessions().size());
            Thread.sleep(3500);
            assertEquals(0, quick.python.sessions().size());
            assertEquals("False", run(quick.python, "cool", "str('v' in globals())").result().asText());
        }
    }

    @Test
    void warmSandboxesAreKeptReady() throws Exception {
        for (int i = 0; i < 100 && pools.python.stats().ready() < 2; i++) {
            Thread.sleep(100);
        }
        assertEquals(2, pools.python.stats().ready());
        run(pools.python, "warm-" + System.nanoTime(), "1");
        for (int i = 0; i < 100 && pools.python.stats().ready() < 2; i++) {
            Thread.sleep(100);
        }
        assertEquals(2, pools.python.stats().ready(), "refilled in the background");
    }

    @Test
    void bytesOfUploadsRoundTrip() {
        byte[] all = new byte[70_000];
        for (int i = 0; i < all.length; i++) {
            all[i] = (byte) i;
        }
        pools.javascript.uploadFile(PoolFixture.key("js-files"), "blob.bin", all).await().atMost(WAIT);
        assertArrayEquals(all, pools.javascript.downloadFile(PoolFixture.key("js-files"), "blob.bin").await().atMost(WAIT));
    }
}
