package io.sandstream.sessions.local;

import static io.sandstream.sessions.local.PoolFixture.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import io.sandstream.SandboxProcesses;
import io.sandstream.sessions.ExecutionResult.Status;

/**
 * Several instances and users on one host: what sandboxes load is refused when anyone but the
 * service could have written it, instances get disjoint uid blocks, and a data directory or
 * runtime directory serves one instance at a time. Real launchers and sandboxes throughout.
 */
class HostIsolationTest {

    /** A uid no one on this machine uses: "another local user". */
    private static final int OTHER_UID = 4242;
    private static final int FIRST_UID = 400_000;

    @TempDir
    Path dir;

    private static PoolFixture fixture(Path dataDir, Map<String, String> overrides) {
        Map<String, String> properties = new HashMap<>(Map.of("sandstream.sessions.first-uid", Integer.toString(FIRST_UID),
                "sandstream.pools.python.ready-sessions", "0", "sandstream.pools.javascript.ready-sessions", "0"));
        properties.putAll(overrides);
        return new PoolFixture(dataDir, properties);
    }

    private static void assumeRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to give files to another uid");
    }

    @Test
    void aRuntimeDirectoryOwnedByAnotherUserIsRefused() throws Exception {
        assumeRoot();
        Path runtime = Files.createDirectory(dir.resolve("runtime"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Files.setAttribute(runtime, "unix:uid", OTHER_UID);
        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> fixture(dir.resolve("data"), Map.of("sandstream.sessions.runtime-dir", runtime.toString())));
        assertTrue(refused.getMessage().contains("owner uid " + OTHER_UID), refused.getMessage());
        assertEquals(List.of(), list(runtime), "nothing was written into it");
    }

    @ParameterizedTest
    @ValueSource(strings = { "770", "707", "1777" })
    void aRuntimeDirectoryWritableByOthersIsRefused(String mode) throws Exception {
        Path runtime = Files.createDirectory(dir.resolve("runtime"));
        assertEquals(0, new ProcessBuilder("chmod", mode, runtime.toString()).inheritIO().start().waitFor());
        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> fixture(dir.resolve("data"), Map.of("sandstream.sessions.runtime-dir", runtime.toString())));
        assertTrue(refused.getMessage().contains("writable by group or others"), refused.getMessage());
        assertEquals(List.of(), list(runtime), "nothing was written into it");
    }

    @Test
    void theDefaultRuntimeDirectoryIsPrivateToTheService() throws Exception {
        try (PoolFixture pools = fixture(dir.resolve("data"), Map.of())) {
            Path runtime = pools.launcher.runtimeDir();
            assertEquals(dir.resolve("data").resolve("runtime"), runtime);
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(runtime)));
            assertEquals(Status.Succeeded, run(pools.python, "isolation-1", "1").status(), "written before a sandbox starts");
            for (String file : List.of("runner.py", "runner.pyc", "script_runner.pyc", "runner.js", "seccomp_filter.py", "seccomp.bpf")) {
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(runtime.resolve(file))), file);
            }
            // The sandbox still gets its runner (copied in from the descriptor), read-only.
            assertEquals(Status.Succeeded, run(pools.python, "isolation-1", "open('/opt/sandstream/runner.pyc', 'rb').read(1)").status());
            String write = run(pools.python, "isolation-1",
                    "try:\n    open('/opt/sandstream/runner.pyc', 'a')\n    print('written')\nexcept OSError as e:\n    print(e.errno)").stdout();
            assertTrue(write.equals("13\n") || write.equals("30\n"), "EACCES or EROFS: " + write);
        }
    }

    @Test
    void aChangedOrReplacedRuntimeFileIsRefusedBeforeASandboxStarts() throws Exception {
        assumeRoot();
        try (PoolFixture pools = fixture(dir.resolve("data"), Map.of())) {
            Path runtime = pools.launcher.runtimeDir();
            startAndStop(pools, Runner.PYTHON);

            Files.setPosixFilePermissions(runtime.resolve("seccomp.bpf"), PosixFilePermissions.fromString("rw-rw-rw-"));
            assertRefused(pools, Runner.PYTHON, "seccomp.bpf", "mode 0666");
            Files.setPosixFilePermissions(runtime.resolve("seccomp.bpf"), PosixFilePermissions.fromString("rw-------"));
            startAndStop(pools, Runner.PYTHON);

            Files.setAttribute(runtime.resolve("runner.pyc"), "unix:uid", OTHER_UID);
            assertRefused(pools, Runner.PYTHON, "runner.pyc", "owner uid " + OTHER_UID);
            Files.setAttribute(runtime.resolve("runner.pyc"), "unix:uid", 0);
            startAndStop(pools, Runner.PYTHON);

            // Same content, owner and mode, but not the file the service wrote.
            Path copy = dir.resolve("runner.js");
            Files.copy(runtime.resolve("runner.js"), copy, StandardCopyOption.COPY_ATTRIBUTES);
            Files.move(copy, runtime.resolve("runner.js"), StandardCopyOption.REPLACE_EXISTING);
            assertRefused(pools, Runner.NODE, "runner.js", "replaced");
            startAndStop(pools, Runner.PYTHON);

            Files.setPosixFilePermissions(runtime, PosixFilePermissions.fromString("rwxrwxrwx"));
            assertRefused(pools, Runner.PYTHON, runtime.toString(), "writable by group or others");
            Files.setPosixFilePermissions(runtime, PosixFilePermissions.fromString("rwx------"));
            startAndStop(pools, Runner.PYTHON);
        }
    }

    private static void startAndStop(PoolFixture pools, Runner runner) throws Exception {
        Sandbox sandbox = Sandbox.start(pools.launcher, runner, pools.config.pools().get("python").limits(),
                Duration.ofSeconds(1), pools.timers, pools.registry.counter("test.output.read"));
        sandbox.kill(null);
        assertTrue(SandboxProcesses.waitFor(() -> SandboxProcesses.inUidBlock(pools.launcher.firstUid()).isEmpty()),
                "the sandbox ended: " + SandboxProcesses.inUidBlock(pools.launcher.firstUid()));
    }

    private static void assertRefused(PoolFixture pools, Runner runner, String file, String problem) {
        IOException refused = assertThrows(IOException.class, () -> startAndStop(pools, runner));
        assertTrue(refused.getMessage().contains(file) && refused.getMessage().contains(problem), refused.getMessage());
        assertEquals(List.of(), SandboxProcesses.inUidBlock(pools.launcher.firstUid()), "no sandbox process was started");
    }

    /**
     * The uid switch (unshare by default): every process of a sandbox (bwrap, its init, the
     * runner) runs as the sandbox's own host uid and gid, real, effective, saved and filesystem
     * alike, with no supplementary group and no capability; for both Python-hosted runners.
     */
    @Test
    void aSandboxRunsAsItsOwnUidWithNoGroupsAndNoCapabilities() throws Exception {
        try (PoolFixture pools = fixture(dir.resolve("data"), Map.of())) {
            for (Runner runner : List.of(Runner.PYTHON, Runner.BASH)) {
                Sandbox sandbox = Sandbox.start(pools.launcher, runner, pools.config.pools().get("python").limits(),
                        Duration.ofSeconds(1), pools.timers, pools.registry.counter("test.output.read"));
                try {
                    List<ProcessHandle> processes = SandboxProcesses.handlesInUidBlock(pools.launcher.firstUid());
                    assertTrue(processes.size() >= 3, "bwrap, its init and the runner: " + processes);
                    String uid = null;
                    for (ProcessHandle p : processes) {
                        Map<String, String> status = new HashMap<>();
                        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(p.pid()), "status"))) {
                            String[] parts = line.split(":", 2);
                            status.put(parts[0], parts.length > 1 ? parts[1].strip() : "");
                        }
                        uid = uid == null ? status.get("Uid").split("\\s+")[0] : uid;
                        String four = String.join("\t", uid, uid, uid, uid);
                        String what = runner + " process " + p.pid() + ": " + status;
                        assertEquals(four, status.get("Uid"), what);
                        assertEquals(four, status.get("Gid"), what);
                        assertEquals("", status.get("Groups"), what);
                        for (String set : List.of("CapInh", "CapPrm", "CapEff", "CapAmb")) {
                            assertEquals("0000000000000000", status.get(set), set + " of " + what);
                        }
                    }
                    assertTrue(Integer.parseInt(uid) >= pools.launcher.firstUid(), "a uid of the block: " + uid);
                } finally {
                    sandbox.kill(null);
                }
                assertTrue(SandboxProcesses.waitFor(() -> SandboxProcesses.inUidBlock(pools.launcher.firstUid()).isEmpty()),
                        "the sandbox ended: " + SandboxProcesses.inUidBlock(pools.launcher.firstUid()));
            }
        }
    }

    @Test
    void twoLaunchersOnOneHostGetDisjointUidBlocks() throws Exception {
        try (PoolFixture a = fixture(dir.resolve("a"), Map.of()); PoolFixture b = fixture(dir.resolve("b"), Map.of())) {
            int first = a.launcher.firstUid();
            int second = b.launcher.firstUid();
            assertTrue(first >= FIRST_UID && second >= FIRST_UID && Math.abs(first - second) >= SandboxLauncher.UIDS,
                    "disjoint blocks: " + first + ", " + second);
            assertEquals(Status.Succeeded, run(a.python, "isolation-1", "1").status());
            assertEquals(Status.Succeeded, run(b.python, "isolation-1", "1").status());
            List<String> inA = SandboxProcesses.inUidBlock(first);
            List<String> inB = SandboxProcesses.inUidBlock(second);
            assertTrue(!inA.isEmpty() && !inB.isEmpty(), inA + " / " + inB);
            assertTrue(inA.stream().noneMatch(inB::contains), "no process in both: " + inA + " / " + inB);
        }
    }

    @Test
    void aSecondInstanceOnTheSameDataDirectoryIsRefused() throws Exception {
        Path data = dir.resolve("data");
        try (PoolFixture first = fixture(data, Map.of())) {
            IllegalStateException refused = assertThrows(IllegalStateException.class, () -> fixture(data, Map.of()));
            assertTrue(refused.getMessage().contains("data directory " + data + " is in use by another sandstream instance"),
                    refused.getMessage());
            assertEquals(Status.Succeeded, run(first.python, "isolation-1", "1").status(), "the first one's files were left alone");
        }
        try (PoolFixture again = fixture(data, Map.of())) {
            assertEquals(Status.Succeeded, run(again.python, "isolation-1", "1").status(), "free again once the first one is closed");
        }
    }

    @Test
    void aRuntimeDirectorySharedByTwoInstancesIsRefused() {
        Map<String, String> shared = Map.of("sandstream.sessions.runtime-dir", dir.resolve("runtime").toString());
        try (PoolFixture first = fixture(dir.resolve("a"), shared)) {
            IllegalStateException refused = assertThrows(IllegalStateException.class, () -> fixture(dir.resolve("b"), shared));
            assertTrue(refused.getMessage().contains("sandstream.sessions.runtime-dir"), refused.getMessage());
        }
    }

    @Test
    void aUidLockDirectoryOthersCanWriteIsRefused() throws Exception {
        Path locks = Files.createDirectory(dir.resolve("locks"));
        Files.setPosixFilePermissions(locks, PosixFilePermissions.fromString("rwxrwxrwx"));
        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> fixture(dir.resolve("data"), Map.of("sandstream.sessions.uid-lock-dir", locks.toString())));
        assertTrue(refused.getMessage().contains("sandstream.sessions.uid-lock-dir"), refused.getMessage());
        // Nothing stays claimed by the refused launcher: the data directory is free again.
        try (PoolFixture pools = fixture(dir.resolve("data"), Map.of())) {
            assertTrue(pools.launcher.firstUid() >= FIRST_UID);
        }
    }

    private static List<Path> list(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.toList();
        }
    }
}
