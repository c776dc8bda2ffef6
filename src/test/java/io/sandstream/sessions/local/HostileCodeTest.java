package io.sandstream.sessions.local;

import static io.sandstream.sessions.local.PoolFixture.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import io.sandstream.SandboxProcesses;
import io.sandstream.model.ExecuteRequest.InputFile;
import io.sandstream.sessions.ExecutionResult.LimitHit;
import io.sandstream.sessions.ExecutionResult.Status;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionSpec;
import io.sandstream.sessions.SessionFileException;
import io.sandstream.sessions.SessionFiles;

/**
 * Code that tries to get out. Each case prints CONTAINED when the attempt failed the way it must;
 * after each, a normal run in another session still works. At the end no sandbox process, FIFO
 * or cgroup is left.
 */
@Tag("hostile")
class HostileCodeTest {

    @TempDir
    static Path dir;
    static final long FIRST_UID = 300_000; // where the claim starts; the block taken is pools.launcher.firstUid()
    static PoolFixture pools;
    /**
     * Pools with tight session bounds, for background work: python with a CPU quota of a fifth of a
     * core and one CPU second per process; javascript with sessions that live three seconds.
     */
    static PoolFixture bounded;
    static ServerSocket hostPort;

    @BeforeAll
    static void start() throws IOException {
        pools = new PoolFixture(dir, Map.of("sandstream.sessions.first-uid", Long.toString(FIRST_UID),
                "sandstream.pools.python.limits.data-mib", "16",
                "sandstream.pools.python.limits.tmp-mib", "16",
                "sandstream.pools.python.limits.shm-mib", "16",
                "sandstream.pools.python.files.timeout", "3s"));
        bounded = new PoolFixture(dir.resolve("bounded"), Map.of("sandstream.sessions.first-uid", Long.toString(FIRST_UID),
                "sandstream.pools.python.ready-sessions", "0",
                "sandstream.pools.javascript.ready-sessions", "0",
                "sandstream.pools.python.limits.cpu-millicores", "200",
                "sandstream.pools.python.limits.cpu-seconds", "1",
                "sandstream.pools.python.limits.process-cpu-seconds", "1",
                "sandstream.pools.javascript.max-lifetime", "3s"));
        hostPort = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        Files.writeString(dir.resolve("host-secret.txt"), "host secret");
    }

    /** This fixture's sandbox processes: the uid block its launcher claimed (another instance's block differs). */
    static List<String> sandboxProcesses() {
        return SandboxProcesses.inUidBlock(pools.launcher.firstUid());
    }

    @AfterAll
    static void stop() throws Exception {
        pools.shutdownPools(); // the launcher keeps its uid block until the checks below are done
        bounded.shutdownPools();
        hostPort.close();
        try {
            assertTrue(SandboxProcesses.waitFor(() -> sandboxProcesses().isEmpty()), "no sandbox process is left: " + sandboxProcesses());
            assertTrue(SandboxProcesses.waitFor(() -> SandboxProcesses.inUidBlock(bounded.launcher.firstUid()).isEmpty()),
                    "no sandbox process of the bounded pools is left");
            SandboxProcesses.waitFor(() -> controlFifos().isEmpty()); // removed when each process's exit is seen
            assertEquals(List.of(), controlFifos(), "no control FIFO is left");
            SandboxProcesses.waitFor(() -> readerThreads().isEmpty());
            assertEquals(List.of(), readerThreads(), "no reader thread outlives its sandbox");
            for (Optional<Path> cgroups : List.of(Cgroups.memoryRoot(), Cgroups.cpuRoot())) {
                if (cgroups.isPresent()) {
                    for (PoolFixture fixture : List.of(pools, bounded)) {
                        try (Stream<Path> groups = Files.list(cgroups.get())) {
                            assertEquals(List.of(), groups.filter(g -> g.getFileName().toString()
                                    .startsWith("sandstream-" + fixture.launcher.idPrefix + "-")).toList(), "no cgroup is left");
                        }
                    }
                }
            }
        } finally {
            pools.close();
            bounded.close();
        }
    }

    /** The threads that read a sandbox's channels are named after it. */
    static List<String> readerThreads() {
        String prefix = "sandbox-" + pools.launcher.idPrefix + "-";
        return Thread.getAllStackTraces().keySet().stream().map(Thread::getName).filter(n -> n.startsWith(prefix)).toList();
    }

    static List<Path> controlFifos() {
        try (Stream<Path> fifos = Files.list(dir.resolve("sandboxes"))) {
            return fifos.toList();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Wraps an attempt: CONTAINED when it raises, ESCAPED when it goes through. */
    static String py(String attempt) {
        return "try:\n" + attempt.indent(4) + "    print('ESCAPED')\nexcept BaseException as e:\n    print('CONTAINED', type(e).__name__)\n";
    }

    static String js(String attempt) {
        return "try { " + attempt + "; console.log('ESCAPED') } catch (e) { console.log('CONTAINED', e.code || e.name) }";
    }

    static Stream<Arguments> attacks() {
        String secret = dir.resolve("host-secret.txt").toString();
        int port = hostPort.getLocalPort();
        return Stream.of(
                Arguments.of("read /etc/shadow", "py", py("open('/etc/shadow').read()")),
                Arguments.of("read /etc/passwd of the host", "py", py("open('/etc/passwd').read()")),
                Arguments.of("read a host file by absolute path", "py", py("open('" + secret + "').read()")),
                Arguments.of("read the service's data dir", "py", py("import os\nassert os.listdir('" + dir + "') is not None")),
                Arguments.of("host root home", "py", py("import os\nos.listdir('/root')")),
                // The host's pid 1 here would be the JVM (its argv[0] a .../bin/java); the sandbox's
                // own pid 1 is bubblewrap, whose arguments may name /etc/java-* (a read-only bind).
                Arguments.of("host /proc: pid 1 is our own init", "py",
                        py("import os\nassert os.path.basename(open('/proc/1/cmdline').read().split(chr(0))[0]) == 'java'")),
                Arguments.of("host processes are invisible", "py",
                        py("import os\nassert len([p for p in os.listdir('/proc') if p.isdigit()]) > 10")),
                Arguments.of("service environment", "py",
                        py("import os\nassert any(k.startswith(('SANDSTREAM', 'JAVA', 'QUARKUS', 'MAVEN')) for k in os.environ)")),
                Arguments.of("init's environment", "py",
                        py("assert b'JAVA' in open('/proc/1/environ','rb').read() or b'SANDSTREAM' in open('/proc/1/environ','rb').read()")),
                Arguments.of("write to /usr", "py", py("open('/usr/evil', 'w').write('x')")),
                Arguments.of("write to the runner", "py", py("open('/opt/sandstream/runner.pyc', 'a').write('x')")),
                Arguments.of("write to /etc", "py", py("open('/etc/evil', 'w').write('x')")),
                Arguments.of("loopback port of the host", "py",
                        py("import socket\nsocket.create_connection(('127.0.0.1', " + port + "), timeout=2)")),
                Arguments.of("the service's HTTP port", "py",
                        py("import socket\nsocket.create_connection(('127.0.0.1', 8080), timeout=2)")),
                Arguments.of("DNS", "py", py("import socket\nsocket.getaddrinfo('example.com', 80)")),
                Arguments.of("UDP out", "py",
                        py("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.sendto(b'x', ('8.8.8.8', 53))")),
                Arguments.of("TCP out", "py", py("import socket\nsocket.create_connection(('1.1.1.1', 443), timeout=2)")),
                Arguments.of("raw socket", "py", py("import socket\nsocket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)")),
                Arguments.of("packet socket", "py", py("import socket\nsocket.socket(socket.AF_PACKET, socket.SOCK_RAW)")),
                // vsock is not per network namespace: from a VM it reaches the hypervisor (CID 2).
                Arguments.of("vsock socket", "py", py("import socket\nsocket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)")),
                Arguments.of("netlink socket (routing)", "py", py("import socket\nsocket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 0)")),
                Arguments.of("netlink socket (uevents)", "py", py("import socket\nsocket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)")),
                Arguments.of("host unix sockets", "py", py("import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/run/systemd/private')")),
                Arguments.of("docker socket", "py", py("import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('/var/run/docker.sock')")),
                Arguments.of("ptrace attach", "py",
                        py("import ctypes\nassert ctypes.CDLL(None, use_errno=True).ptrace(16, 1, 0, 0) == 0")),
                Arguments.of("mount", "py",
                        py("import ctypes\nassert ctypes.CDLL(None).mount(b'none', b'/tmp', b'tmpfs', 0, None) == 0")),
                Arguments.of("new user namespace", "py",
                        py("import ctypes\nassert ctypes.CDLL(None).unshare(0x10000000) == 0")),
                Arguments.of("new network namespace", "py",
                        py("import ctypes\nassert ctypes.CDLL(None).unshare(0x40000000) == 0")),
                Arguments.of("bpf", "py", py("import ctypes\nassert ctypes.CDLL(None).syscall(321, 0, 0, 0) >= 0")),
                Arguments.of("keyctl", "py", py("import ctypes\nassert ctypes.CDLL(None).syscall(250, 0, 0, 0) >= 0")),
                Arguments.of("perf_event_open", "py", py("import ctypes\nassert ctypes.CDLL(None).syscall(298, 0, 0, -1, -1, 0) >= 0")),
                Arguments.of("io_uring", "py", py("import ctypes\nassert ctypes.CDLL(None).syscall(425, 1, 0) >= 0")),
                Arguments.of("userfaultfd", "py", py("import ctypes\nassert ctypes.CDLL(None).syscall(323, 0) >= 0")),
                Arguments.of("become root", "py", py("import os\nos.setuid(0)")),
                Arguments.of("chroot", "py", py("import os\nos.chroot('/tmp')")),
                Arguments.of("kill the host's processes", "py", py("import os\nos.kill(" + ProcessHandle.current().pid() + ", 9)")),
                Arguments.of("symlink to a host file, read via /mnt/data", "py",
                        py("import os\nos.symlink('" + secret + "', '/mnt/data/s')\nopen('/mnt/data/s').read()")),
                Arguments.of("dot-dot out of /mnt/data", "py", py("open('/mnt/data/../../" + secret + "').read()")),
                Arguments.of("/sys is absent", "py", py("import os\nassert os.listdir('/sys/fs/cgroup')")),
                Arguments.of("devices", "py", py("open('/dev/sda', 'rb').read(1)")),
                Arguments.of("kernel memory", "py", py("open('/dev/mem', 'rb').read(1)")),
                Arguments.of("write to /dev", "py", py("open('/dev/evil', 'w').write('x')")),
                Arguments.of("node: write to /dev", "js", js("require('fs').writeFileSync('/dev/evil', 'x')")),
                Arguments.of("fill /dev/shm beyond its size", "py", py("""
                        import os
                        try:
                            with open('/dev/shm/big', 'wb') as f:
                                for i in range(40):
                                    f.write(b'x' * 1048576)
                        finally:
                            os.unlink('/dev/shm/big')""")),
                Arguments.of("node: host files", "js", js("require('fs').readFileSync('" + secret + "')")),
                Arguments.of("node: environment", "js",
                        js("if (!Object.keys(process.env).some(k => /^(SANDSTREAM|JAVA|QUARKUS)/.test(k))) throw new Error('clean')")),
                Arguments.of("node: host port", "js",
                        js("require('child_process').execSync('exec 3<>/dev/tcp/127.0.0.1/" + port + "', {shell: '/bin/bash', stdio: 'pipe'})")),
                Arguments.of("node: write /usr", "js", js("require('fs').writeFileSync('/usr/evil', 'x')")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("attacks")
    void attemptIsContained(String name, String language, String code) {
        LocalSessionPool pool = language.equals("py") ? pools.python : pools.javascript;
        ExecutionResult result = run(pool, "attacker", code, 20);
        assertTrue(result.stdout().contains("CONTAINED"), name + ": " + result);
        assertFalse(result.stdout().contains("ESCAPED"), name + ": " + result);
        assertEquals(Status.Succeeded, run(pools.python, "bystander", "1 + 1").status(), "another session still works");
    }

    @Test
    void anotherSessionsFilesAreInvisible() {
        run(pools.python, "owner", "open('/mnt/data/mine.txt', 'w').write('private')");
        ExecutionResult other = run(pools.python, "intruder", py("open('/mnt/data/mine.txt').read()"));
        assertTrue(other.stdout().contains("CONTAINED"), other.toString());
    }

    @Test
    void aDaemonCannotOutliveItsSession() throws Exception {
        run(pools.python, "daemon", """
                import os, time
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        os.execv('/usr/bin/sleep', ['sleep', '300'])
                    os._exit(0)
                'forked'""");
        assertTrue(SandboxProcesses.waitFor(() -> sandboxProcesses().stream().anyMatch(p -> p.contains("sleep 300"))),
                "the daemon runs before its session ends");
        assertTrue(pools.python.deleteSession(PoolFixture.key("daemon")).await().atMost(PoolFixture.WAIT));
        assertTrue(SandboxProcesses.waitFor(() -> sandboxProcesses().stream().noneMatch(p -> p.contains("sleep 300"))),
                "the daemonized child died with its sandbox: " + sandboxProcesses());
    }

    @Test
    void killingEverythingInsideOnlyEndsThatSession() {
        run(pools.python, "suicidal", "import os, signal\nos.kill(-1, signal.SIGKILL)");
        assertEquals(Status.Succeeded, run(pools.python, "bystander", "2 + 2").status());
        assertEquals(Status.Succeeded, run(pools.python, "suicidal", "3 + 3").status(), "the session restarts");
    }

    @Test
    void sharedMemoryAndDeviceNodesStillWork() {
        ExecutionResult result = run(pools.python, "shared-memory", """
                import multiprocessing, os
                lock = multiprocessing.Lock()  # a POSIX semaphore in /dev/shm
                with lock:
                    open('/dev/shm/ok', 'w').write('x' * 4096)
                open('/dev/null', 'w').write('discarded')
                len(os.urandom(16)) + os.path.getsize('/dev/shm/ok')""");
        assertEquals(Status.Succeeded, result.status(), result.toString());
        assertEquals(4112, result.result().asInt());
    }

    /**
     * Four children raise their CPU limit as far as they can and spin after the execution ended:
     * the hard limit the launcher set stops each after one CPU second, and meanwhile the sandbox's
     * cgroup holds all of them to a fifth of a core.
     */
    @Test
    void backgroundCpuBurnersAreBoundedAndStopped() throws Exception {
        String burner = String.join("\\n", "import resource",
                "soft, hard = resource.getrlimit(resource.RLIMIT_CPU)",
                "resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))",
                "while True: pass");
        ExecutionResult started = run(bounded.python, "burner", """
                import resource, subprocess, sys
                try:
                    resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                    print('RAISED')
                except ValueError:
                    print('HARD', resource.getrlimit(resource.RLIMIT_CPU)[1])
                for i in range(4):
                    subprocess.Popen([sys.executable, '-c', '%s'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                'started'""".formatted(burner));
        assertEquals(Status.Succeeded, started.status(), started.toString());
        assertEquals("HARD 1\n", started.stdout(), "the hard CPU limit is the launcher's, and code cannot raise it");
        long firstUid = bounded.launcher.firstUid();
        assertTrue(SandboxProcesses.waitFor(() -> burners(firstUid).size() == 4), "the burners run: " + burners(firstUid));

        // Where the host lets this process create cpu cgroups, the launcher must use one.
        if (Cgroups.cpuRoot().isPresent()) {
            long cpuBefore = cpuTicks(burners(firstUid));
            long wallBefore = System.nanoTime();
            Thread.sleep(2000);
            long cpuTicks = cpuTicks(burners(firstUid)) - cpuBefore;
            double wallSeconds = (System.nanoTime() - wallBefore) / 1e9;
            // A fifth of a core over the window, plus a tick of rounding per burner and a quota period.
            assertTrue(cpuTicks / 100.0 <= 0.2 * wallSeconds + 0.15,
                    "4 burners used " + cpuTicks / 100.0 + " CPU s in " + wallSeconds + " s: more than the quota of 0.2 core");
        }
        // Each burner has one CPU second (at a fifth of a core shared by four, about 20 s).
        for (int i = 0; i < 120 && !burners(firstUid).isEmpty(); i++) {
            Thread.sleep(500);
        }
        assertEquals(List.of(), burners(firstUid), "every burner was stopped by the hard CPU limit");
        assertTrue(bounded.python.deleteSession(PoolFixture.key("burner")).await().atMost(PoolFixture.WAIT));
    }

    /** The runner itself reaching the session's hard CPU limit over several executions names the limit. */
    @Test
    void aRunnerKilledByTheSessionsHardCpuLimitNamesIt() {
        String burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass";
        ExecutionResult last = null;
        for (int i = 0; i < 8; i++) {
            last = run(bounded.python, "hard-cpu", burn, 60);
            if (last.status() != Status.Succeeded) {
                break;
            }
        }
        assertEquals(Status.Failed, last.status(), "one second of the runner's CPU is the session's whole budget: " + last);
        assertEquals(LimitHit.cpu, last.limitHit(), last.toString());
        bounded.python.deleteSession(PoolFixture.key("hard-cpu")).await().atMost(PoolFixture.WAIT);
    }

    private static List<ProcessHandle> burners(long firstUid) {
        return SandboxProcesses.handlesInUidBlock(firstUid).stream()
                .filter(p -> p.info().commandLine().orElse("").contains("while True")).toList();
    }

    /** utime + stime of the processes, in clock ticks (1/100 s). */
    private static long cpuTicks(List<ProcessHandle> processes) {
        long ticks = 0;
        for (ProcessHandle p : processes) {
            try {
                String stat = Files.readString(Path.of("/proc/" + p.pid() + "/stat"));
                String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                ticks += Long.parseLong(fields[11]) + Long.parseLong(fields[12]);
            } catch (IOException e) {
                // ended meanwhile
            }
        }
        return ticks;
    }

    /** A session used every half second still ends at its lifetime (3 s here); the next call gets a fresh one. */
    @Test
    void aSessionEndsAtItsLifetimeHoweverOftenItIsUsed() throws Exception {
        ExecutionResult first = run(bounded.javascript, "long-lived", "globalThis.kept = 41; kept");
        assertEquals(41, first.result().asInt(), first.toString());
        String seen = "number";
        for (int i = 0; i < 40 && seen.equals("number"); i++) {
            Thread.sleep(500);
            seen = run(bounded.javascript, "long-lived", "typeof kept").result().asText();
        }
        assertEquals("undefined", seen, "the session was replaced by a fresh one");
        assertTrue(bounded.registry.get("sandstream.pool.lifetime.ended").tag("pool", "javascript").counter().count() >= 1);
        assertTrue(bounded.javascript.deleteSession(PoolFixture.key("long-lived")).await().atMost(PoolFixture.WAIT));
    }

    /**
     * A child floods stdout after its execution ended: between executions the service reads
     * nothing (the pipe fills and the child blocks), file operations still answer, and the next
     * execution starts.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("floods")
    void aBackgroundOutputFloodIsNotReadWhileIdle(String language, String code) throws Exception {
        LocalSessionPool pool = language.equals("py") ? pools.python : pools.javascript;
        String session = "flood-" + language;
        ExecutionResult started = run(pool, session, code);
        assertEquals(Status.Succeeded, started.status(), started.toString());
        Thread.sleep(1500); // the flood has begun
        double before = outputRead(pool);
        Thread.sleep(2000);
        double read = outputRead(pool) - before;
        assertTrue(read < 256 * 1024, read + " bytes read from an idle session's output in 2 s");
        assertEquals(List.of(), pool.listFiles(PoolFixture.key(session)).await().atMost(PoolFixture.WAIT).files(), "files still answer");
        ExecutionResult next = run(pool, session, "6 * 7");
        assertTrue(next.status() == Status.Succeeded || next.limitHit() == ExecutionResult.LimitHit.output, next.toString());
        // The flood goes on in the next execution: it may hit the output limit, which ends the session.
        pool.deleteSession(PoolFixture.key(session)).await().atMost(PoolFixture.WAIT);
    }

    static Stream<Arguments> floods() {
        return Stream.of(
                Arguments.of("py", """
                        import subprocess, sys
                        subprocess.Popen([sys.executable, '-c', 'import os, time\\ntime.sleep(0.5)\\nwhile True: os.write(1, b"x" * 65536)'])
                        'started'"""),
                // Node writes to pipes synchronously: its main thread blocks on the full pipe.
                Arguments.of("js", "setTimeout(() => setInterval(() => process.stdout.write('x'.repeat(65536)), 0), 500); 'started'"));
    }

    private static double outputRead(LocalSessionPool pool) {
        return pools.registry.get("sandstream.pool.output.read").tag("pool", pool.name()).counter().count();
    }

    // ---- files the session's code made hostile (issue 16, point 5) --------------------------------

    static SessionFileException refused(io.smallrye.mutiny.Uni<?> operation) {
        return assertThrows(SessionFileException.class, () -> operation.await().atMost(PoolFixture.WAIT));
    }

    @Test
    void aFifoIsRefusedAtOnceAndTheSessionAndPoolStayUsable() {
        // Before: opening the FIFO waited forever for a writer, and each such session held its pool slot.
        for (String session : List.of("fifo-1", "fifo-2", "fifo-3")) {
            run(pools.python, session, "import os\nos.mkfifo('/mnt/data/pipe')\nstate = 42");
            assertEquals(SessionFileException.Reason.FAILED,
                    refused(pools.python.downloadFile(PoolFixture.key(session), "pipe")).reason());
            assertEquals(SessionFileException.Reason.FAILED,
                    refused(pools.python.uploadFile(PoolFixture.key(session), "pipe", "x".getBytes())).reason());
            assertEquals(Status.Succeeded, run(pools.python, session, "state").status(), "the session kept its state");
        }
        run(pools.javascript, "fifo-js", "require('child_process').execFileSync('mkfifo', ['/mnt/data/pipe'])");
        assertEquals(SessionFileException.Reason.FAILED,
                refused(pools.javascript.downloadFile(PoolFixture.key("fifo-js"), "pipe")).reason());
        assertEquals(Status.Succeeded, run(pools.python, "after-fifos", "1 + 1").status(), "the pool takes new sessions");
    }

    @Test
    void aFileOperationPastItsDeadlineEndsOnlyThatSession() {
        // User code shares the runner's process: here it makes every open of the runner hang.
        run(pools.python, "hang-files", "import os, time\nkept = 1\nos.open = lambda *a, **k: time.sleep(3600)");
        SessionFileException timeout = refused(pools.python.downloadFile(PoolFixture.key("hang-files"), "any.txt"));
        assertEquals(SessionFileException.Reason.TIMED_OUT, timeout.reason(), timeout.getMessage());
        ExecutionResult after = run(pools.python, "hang-files", "'kept' in globals()");
        assertEquals(Status.Succeeded, after.status(), after.toString());
        assertEquals("false", after.result().toString(), "the session starts afresh in a new sandbox");
        assertEquals(0, pools.python.wedged());
    }

    @Test
    void anInputFileTheSessionCannotTakeIsAFailedResult() {
        run(pools.python, "dir-input", "import os\nos.mkdir('/mnt/data/in.csv')\nos.mkfifo('/mnt/data/in.fifo')");
        for (String name : List.of("in.csv", "in.fifo")) {
            ExecutionResult result = pools.python.run(Optional.of(PoolFixture.key("dir-input")),
                    new ExecutionSpec("print('ran')", 20, List.of(new InputFile(name, "a,b\n".getBytes()))))
                    .await().atMost(PoolFixture.WAIT);
            assertEquals(Status.Failed, result.status(), result.toString());
            assertEquals("InputFileRefused", result.errorType(), result.toString());
            assertTrue(result.errorMessage().contains(name), result.toString());
            assertFalse(result.stdout().contains("ran"), "the code does not run without its input");
        }
    }

    @Test
    void aHugeListingIsCappedAndSaysSo() {
        run(pools.python, "many-files", "import os\nfor i in range(100_000):\n    os.close(os.open(f'/mnt/data/f{i:06}', os.O_CREAT | os.O_WRONLY))", 60);
        SessionFiles listing = pools.python.listFiles(PoolFixture.key("many-files")).await().atMost(PoolFixture.WAIT);
        assertTrue(listing.truncated(), "the listing says it is cut");
        int cap = pools.config.pools().get("python").files().listMaxEntries();
        assertTrue(listing.files().size() > 0 && listing.files().size() <= cap, "entries: " + listing.files().size());
        assertEquals("f000000", listing.files().get(0).name(), "the first names, in order");
        assertEquals(Status.Succeeded, run(pools.python, "many-files", "1").status(), "the session survives");
    }

    // ---- limits named truthfully (issue 16, points 7 and 8) ---------------------------------------

    @Test
    void javascriptOutputIsWholeOrCutAndSaysSo() {
        int cap = pools.config.pools().get("javascript").limits().outputBytes();
        ExecutionResult whole = run(pools.javascript, "js-out", "process.stdout.write('x'.repeat(900 * 1024)); 1");
        assertEquals(Status.Succeeded, whole.status(), whole.errorMessage());
        assertEquals(900 * 1024, whole.stdout().length(), "every byte written before the end");
        assertFalse(whole.truncated());
        ExecutionResult cut = run(pools.javascript, "js-out", "process.stdout.write('y'.repeat(" + (cap + 512 * 1024) + ")); 1");
        assertTrue(cut.truncated(), cut.errorMessage());
        assertEquals(LimitHit.output, cut.limitHit());
        assertEquals(cap, cut.stdout().length());
        ExecutionResult again = run(pools.javascript, "js-out", "2 + 2");
        assertEquals(Status.Succeeded, again.status(), again.toString());
    }

    @Test
    void nodeOutOfHeapIsTheMemoryLimit() {
        ExecutionResult result = run(pools.javascript, null, "const a = []; while (true) a.push(new Array(1e6).fill(1.5));", 60);
        assertEquals(LimitHit.memory, result.limitHit(), result.toString());
        assertEquals(Status.Failed, result.status());
    }

    @Test
    void javascriptCannotReadItsControlChannel() {
        ExecutionResult raw = run(pools.javascript, "js-stdin", "require('fs').readFileSync(0).length", 10);
        assertEquals(Status.Succeeded, raw.status(), raw.toString());
        assertEquals("0", raw.result().toString(), "fd 0 is empty");
        ExecutionResult stream = run(pools.javascript, "js-stdin", """
                new Promise((done) => { let n = 0; process.stdin.on('data', (d) => n += d.length);
                  process.stdin.on('end', () => done(n)); process.stdin.resume(); })""", 10);
        assertEquals("0", String.valueOf(stream.result()), stream.toString());
        assertEquals(Status.Succeeded, run(pools.javascript, "js-stdin", "1 + 1").status(), "requests still arrive");
    }

    @Test
    void childrenKilledByTheMemoryLimitNameIt() {
        assumeTrue(pools.launcher.memoryByCgroup(), "the OOM killer acts on a memory cgroup");
        ExecutionResult result = run(pools.python, null, """
                import subprocess, sys
                hog = "import time; b = b'x' * (200 * 2**20); time.sleep(3)"
                children = [subprocess.Popen([sys.executable, '-c', hog]) for _ in range(8)]
                print([c.wait() for c in children])""", 60);
        assertTrue(result.stdout().contains("-9"), "some children were killed: " + result);
        assertEquals(LimitHit.memory, result.limitHit(), result.toString());
        assertEquals(Status.Failed, result.status());
    }

    @Test
    void childrenStoppedByTheProcessLimitNameIt() {
        ExecutionResult result = run(pools.python, null, """
                import subprocess
                print(subprocess.run(['sh', '-c', 'for i in $(seq 100); do sleep 1 & done; wait']).returncode)""", 60);
        assertEquals(LimitHit.pids, result.limitHit(), result.toString());
        assertEquals(Status.Failed, result.status());
    }
}
