package io.sandstream.sessions.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;

import org.jboss.logging.Logger;

import io.sandstream.config.HostLock;
import io.sandstream.config.SandstreamConfig;

/**
 * Builds and starts the sandbox processes: the runner scripts and seccomp filter on disk, a host
 * uid of its own per sandbox, a memory cgroup where the host lets us create one, and the
 * bubblewrap command line that puts it all together. It holds, until {@link #close()}: the data
 * directory's sandboxes ({@code sandboxes.lock}: a second launcher on it is refused), the runtime
 * directory when it lies elsewhere, and its block of sandbox uids ({@link UidBlock}).
 */
public final class SandboxLauncher implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(SandboxLauncher.class);
    static final int SANDBOX_UID = 1000;
    /** Host uids per launcher, from {@link #firstUid()} on. */
    public static final int UIDS = UidBlock.SIZE;

    private final SandstreamConfig.Sessions config;
    private final RuntimeDirectory runtime;
    private final Path controlDir;
    private final Optional<Path> cgroupRoot;
    private final Optional<Path> cpuCgroupRoot;
    private final UidBlock uids;
    private final List<AutoCloseable> held = new ArrayList<>();
    private final BitSet uidsInUse = new BitSet(UIDS);
    /** Prefix of this launcher's sandbox ids (FIFOs, cgroups): unique per service run. */
    final String idPrefix = Long.toString(ProcessHandle.current().pid(), 36) + "-"
            + Long.toString(System.nanoTime() & 0xffffff, 36);

    public SandboxLauncher(SandstreamConfig.Sessions config, Path dataDir) {
        this.config = config;
        Path data = dataDir.toAbsolutePath().normalize();
        Path runtimePath = config.runtimeDir().map(p -> p.toAbsolutePath().normalize()).orElse(data.resolve("runtime"));
        this.controlDir = data.resolve("sandboxes");
        try {
            // Locked before anything is written: a second instance must not rewrite the first one's files.
            Files.createDirectories(data);
            // DataDirectory locks instance.lock per process; this one also keeps launchers in one JVM apart.
            held.add(lock(data.resolve("sandboxes.lock"), "data directory", "sandstream.data-dir"));
            this.runtime = RuntimeDirectory.open(runtimePath);
            if (!runtimePath.startsWith(data)) {
                held.add(lock(runtimePath.resolve("instance.lock"), "sandbox runtime directory", "sandstream.sessions.runtime-dir"));
            }
            runtime.populate(config.python());
            Files.createDirectories(controlDir);
            Files.setPosixFilePermissions(controlDir, PosixFilePermissions.fromString("rwx------"));
            try (var leftovers = Files.list(controlDir)) {
                for (Path p : leftovers.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            config.uidHelper().filter(helper -> !Files.isExecutable(helper)).ifPresent(helper -> {
                throw new IllegalStateException("sandstream.sessions.uid-helper " + helper + " is not an executable file");
            });
            this.uids = UidBlock.claim(config.uidLockDir(), config.firstUid());
            held.add(uids);
        } catch (IOException | RuntimeException e) {
            close();
            if (e instanceof IOException io) {
                throw new UncheckedIOException("cannot prepare the sandboxes in " + data, io);
            }
            throw (RuntimeException) e;
        }
        this.cgroupRoot = Cgroups.memoryRoot();
        this.cpuCgroupRoot = Cgroups.cpuRoot();
        LOG.infof("sandboxes: runtime %s, memory limits by %s, CPU quota by %s", runtimePath,
                cgroupRoot.map(p -> "cgroup " + p).orElse("address-space rlimit (no writable memory cgroup)"),
                cpuCgroupRoot.map(p -> "cgroup " + p).orElse("none (no writable cpu cgroup; the hard CPU rlimit still holds)"));
    }

    private static HostLock lock(Path file, String what, String setting) throws IOException {
        Path dir = file.getParent();
        return HostLock.tryLock(file).orElseThrow(() -> new IllegalStateException("the " + what + " " + dir
                + " is in use by another sandstream instance (it holds " + file + "): give each instance its own " + setting));
    }

    /** The first host uid of the block this launcher claimed; its sandboxes run as uids in [first, first + UIDS). */
    public int firstUid() {
        return uids.first;
    }

    Path runtimeDir() {
        return runtime.path();
    }

    /** Releases the data directory, the runtime directory and the uid block; stop the pools first. */
    @Override
    public void close() {
        for (AutoCloseable lock : held) {
            try {
                lock.close();
            } catch (Exception e) {
                LOG.debugf("releasing %s failed: %s", lock, e.getMessage());
            }
        }
        held.clear();
    }

    /** True when memory is limited by cgroup (a breach is an OOM kill) rather than by rlimit. */
    public boolean memoryByCgroup() {
        return cgroupRoot.isPresent();
    }

    /** True when each sandbox's CPU bandwidth is bounded by a cgroup quota. */
    public boolean cpuByCgroup() {
        return cpuCgroupRoot.isPresent();
    }

    synchronized int allocateUid() {
        int slot = uidsInUse.nextClearBit(0);
        if (slot >= UIDS) {
            throw new IllegalStateException("no free sandbox uid");
        }
        uidsInUse.set(slot);
        return uids.first + slot;
    }

    synchronized void releaseUid(int uid) {
        uidsInUse.clear(uid - uids.first);
    }

    Path controlFifo(String id) {
        return controlDir.resolve(id + ".ctl");
    }

    /**
     * Creates the control FIFO and memory cgroup for a sandbox, and starts its process once the
     * runtime files it opened are checked.
     */
    Process start(String id, int uid, Runner kind, SandstreamConfig.Limits limits) throws IOException {
        runtime.verifyDirectory();
        String runner = kind.script;
        Path fifo = controlFifo(id);
        Process mkfifo = new ProcessBuilder("mkfifo", "-m", "600", fifo.toString()).start();
        try {
            if (mkfifo.waitFor() != 0) {
                throw new IOException("mkfifo failed for " + fifo);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        Optional<Path> cgroup = cgroupRoot.map(root -> Cgroups.createMemory(root, id, limits.memoryMib() * 1024L * 1024L));
        Optional<Path> cpuCgroup = cpuCgroupRoot.map(root -> Cgroups.createCpu(root, id, limits.cpuMillicores()));
        List<String> command = new ArrayList<>(List.of("/bin/sh", "-c",
                // As the service: open the control FIFO (fd 3), the seccomp filter (fd 5) and the
                // runner (fd 6); wait until the service has checked what 5 and 6 are; join the
                // memory and cpu cgroups (v2: the same one), then drop to the sandbox's own uid
                // before bubblewrap starts. Everything the sandbox ever starts stays in them.
                "exec 3<>\"$1\" 5<\"$2\" 6<\"$3\" || exit 120; printf R; read -r checked || exit 122;"
                        + " for g in \"$4\" \"$5\"; do [ -z \"$g\" ] || echo $$ > \"$g/cgroup.procs\" || exit 121; done;"
                        + " shift 5; exec \"$@\"",
                "sandbox", fifo.toString(), runtime.file(RuntimeDirectory.SECCOMP).toString(), runtime.file(runner).toString(),
                cgroup.map(Path::toString).orElse(""), cpuCgroup.map(Path::toString).orElse("")));
        command.addAll(config.uidHelper()
                .map(helper -> List.of(helper.toString(), Integer.toString(uid), "--"))
                .orElse(List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--")));
        // The hard CPU limit is set here, before anything of the sandbox runs: no process in it can
        // raise it (the runner lowers the soft one per execution; children may raise theirs to it).
        command.addAll(List.of("prlimit", "--nproc=" + limits.pids(), "--nofile=" + limits.openFiles(),
                "--fsize=" + limits.fileSizeMib() * 1024L * 1024L, "--core=0",
                "--cpu=" + limits.processCpuSeconds() + ":" + limits.processCpuSeconds()));
        if (cgroup.isEmpty()) {
            // Without a cgroup, the address space bounds memory (plus what the runtime reserves up front).
            command.add("--as=" + (limits.memoryMib() + kind.addressSpaceReserveMib) * 1024L * 1024L);
        }
        command.add("--");
        command.addAll(bwrapArguments(limits, runner));
        switch (kind) {
            case PYTHON -> command.addAll(List.of(config.python(), "-I", "-u", "/opt/sandstream/runner.py"));
            // Node cannot dup: the requests move to fd 4 and fd 0 becomes /dev/null here, so user
            // code reading its standard input never reads the control channel (runner.py dups itself).
            case NODE -> command.addAll(List.of("/bin/sh", "-c", "exec \"$0\" \"$@\" 4<&0 0</dev/null", config.node(),
                    "--max-old-space-size=" + Math.max(16, limits.memoryMib() * 3 / 4), "/opt/sandstream/runner.js"));
            // The script runner is told its language and the memory limit (runtimes like the JVM size their heaps by it).
            default -> command.addAll(List.of(config.python(), "-I", "-u", "/opt/sandstream/" + runner,
                    kind.language.wireName(), Long.toString(limits.memoryMib())));
        }
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().clear();
        builder.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        Process process = builder.start();
        try {
            checkOpenedFiles(process, runner);
        } catch (IOException | RuntimeException e) {
            process.destroyForcibly();
            throw e;
        }
        return process;
    }

    /** The files the shell opened, checked through /proc (stat calls only), then the shell may go on. */
    private void checkOpenedFiles(Process process, String runner) throws IOException {
        if (process.getInputStream().read() != 'R') {
            throw new IOException("the sandbox's shell ended before its runtime files were checked (cannot open "
                    + runtime.file(RuntimeDirectory.SECCOMP) + " or " + runtime.file(runner) + "?)");
        }
        runtime.verifyOpened(process.pid(), 5, RuntimeDirectory.SECCOMP);
        runtime.verifyOpened(process.pid(), 6, runner);
        process.getOutputStream().write('\n');
        process.getOutputStream().flush();
    }

    /**
     * Configuration the toolchains of the script languages read from /etc (read-only): the JDK's
     * conf directory links into /etc/java-N-openjdk (java.security, logging.properties).
     */
    private static final List<String> TOOLCHAIN_ETC = etcDirectories("java-");

    private static List<String> etcDirectories(String prefix) {
        try (var entries = Files.list(Path.of("/etc"))) {
            return entries.filter(p -> p.getFileName().toString().startsWith(prefix) && Files.isDirectory(p))
                    .map(Path::toString).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    private List<String> bwrapArguments(SandstreamConfig.Limits limits, String runner) {
        List<String> args = new ArrayList<>(List.of("bwrap",
                "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--disable-userns",
                "--uid", Integer.toString(SANDBOX_UID), "--gid", Integer.toString(SANDBOX_UID), "--hostname", "sandbox",
                "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/mnt/data",
                "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "MPLBACKEND", "Agg",
                "--ro-bind", "/usr", "/usr",
                "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
                "--symlink", "usr/sbin", "/sbin",
                "--proc", "/proc", "--dev", "/dev",
                // POSIX shared memory and semaphores get a sized tmpfs of their own; the rest of /dev
                // (null, zero, full, random, urandom, tty, the pts mount) is made read-only below.
                "--size", Long.toString(limits.shmMib() * 1024L * 1024L), "--perms", "1777", "--tmpfs", "/dev/shm",
                "--size", Long.toString(limits.tmpMib() * 1024L * 1024L), "--tmpfs", "/tmp",
                "--size", Long.toString(limits.dataMib() * 1024L * 1024L), "--perms", "0777", "--tmpfs", "/mnt/data",
                // A copy of the runner from fd 6, read-only: the sandbox's uid never needs to reach
                // the runtime directory, which stays closed to everyone but the service.
                "--perms", "0444", "--ro-bind-data", "6", "/opt/sandstream/" + runner,
                // The root is bwrap's own tmpfs: read-only once built, so only the sized mounts take writes.
                "--remount-ro", "/", "--remount-ro", "/dev",
                "--chdir", "/mnt/data",
                "--seccomp", "5",
                "--"));
        List<String> etcDirs = new ArrayList<>(List.of("/etc/alternatives", "/etc/ssl", "/etc/ca-certificates"));
        etcDirs.addAll(TOOLCHAIN_ETC);
        for (String etc : etcDirs) {
            if (Files.isDirectory(Path.of(etc))) {
                args.addAll(args.indexOf("--proc"), List.of("--ro-bind", etc, etc));
            }
        }
        return args;
    }

    void cleanup(String id) {
        cleanupFifo(id);
        cgroupRoot.ifPresent(root -> Cgroups.remove(root, id));
        cpuCgroupRoot.ifPresent(root -> Cgroups.remove(root, id));
    }

    void cleanupFifo(String id) {
        try {
            Files.deleteIfExists(controlFifo(id));
        } catch (IOException e) {
            LOG.debugf("removing the control FIFO of %s failed: %s", id, e.getMessage());
        }
    }

    Optional<Path> cgroup(String id) {
        return cgroupRoot.map(root -> Cgroups.group(root, id));
    }

    Optional<Path> cpuCgroup(String id) {
        return cpuCgroupRoot.map(root -> Cgroups.group(root, id));
    }
}
