package io.sandstream.sessions.local;

import static io.sandstream.sessions.local.PoolFixture.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import io.sandstream.SandboxProcesses;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionResult.Status;

/**
 * Code that tries to get out. Each case prints CONTAINED when the attempt failed the way it must;
 * after each, a normal run in another session still works. At the end no sandbox process, FIFO
 * or cgroup is left.
 */
class HostileCodeTest {

    @TempDir
    static Path dir;
    static final long FIRST_UID = 300_000; // where the claim starts; the block taken is pools.launcher.firstUid()
    static PoolFixture pools;
    static ServerSocket hostPort;

    @BeforeAll
    static void start() throws IOException {
        pools = new PoolFixture(dir, Map.of("sandstream.sessions.first-uid", Long.toString(FIRST_UID),
                "sandstream.pools.python.limits.data-mib", "16",
                "sandstream.pools.python.limits.tmp-mib", "16"));
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
        hostPort.close();
        try {
            assertTrue(SandboxProcesses.waitFor(() -> sandboxProcesses().isEmpty()), "no sandbox process is left: " + sandboxProcesses());
            SandboxProcesses.waitFor(() -> controlFifos().isEmpty()); // removed when each process's exit is seen
            assertEquals(List.of(), controlFifos(), "no control FIFO is left");
            SandboxProcesses.waitFor(() -> readerThreads().isEmpty());
            assertEquals(List.of(), readerThreads(), "no reader thread outlives its sandbox");
            Optional<Path> cgroups = Cgroups.memoryRoot();
            if (cgroups.isPresent()) {
                try (Stream<Path> groups = Files.list(cgroups.get())) {
                    assertEquals(List.of(), groups.filter(g -> g.getFileName().toString().startsWith("sandstream-" + pools.launcher.idPrefix + "-")).toList(), "no memory cgroup is left");
                }
            }
        } finally {
            pools.close();
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
                Arguments.of("host /proc: pid 1 is our own init", "py",
                        py("assert open('/proc/1/cmdline').read().find('java') >= 0")),
                Arguments.of("host processes are invisible", "py",
                        py("import os\nassert len([p for p in os.listdir('/proc') if p.isdigit()]) > 10")),
                Arguments.of("service environment", "py",
                        py("import os\nassert any(k.startswith(('SANDSTREAM', 'JAVA', 'QUARKUS', 'MAVEN')) for k in os.environ)")),
                Arguments.of("init's environment", "py",
                        py("assert b'JAVA' in open('/proc/1/environ','rb').read() or b'SANDSTREAM' in open('/proc/1/environ','rb').read()")),
                Arguments.of("write to /usr", "py", py("open('/usr/evil', 'w').write('x')")),
                Arguments.of("write to the runner", "py", py("open('/opt/sandstream/runner.py', 'a').write('x')")),
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
}
