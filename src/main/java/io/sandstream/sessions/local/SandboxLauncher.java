package io.sandstream.sessions.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Deque;
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
    static final String MPL_CONFIG_DIR = "/tmp/matplotlib";
    /** Host uids per launcher, from {@link #firstUid()} on. */
    public static final int UIDS = UidBlock.SIZE;

    private final SandstreamConfig.Sessions config;
    private final RuntimeDirectory runtime;
    private final Path controlDir;
    /** FIFOs made ahead, {@link #FIFO_BATCH} per mkfifo, renamed to a sandbox's control FIFO when it starts. */
    private final Path fifoStockDir;
    private final Deque<Path> fifoStock = new ArrayDeque<>();
    private long fifosMade;
    /**
     * One mkfifo process per this many sandbox starts: a process start from the JVM was a measurable
     * part of a cold start (docs/benchmarks.md), and Java cannot make a FIFO itself.
     */
    static final int FIFO_BATCH = 16;
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
        this.fifoStockDir = data.resolve("sandboxes-fifos");
        try {
            // Locked before anything is written: a second instance must not rewrite the first one's files.
            Files.createDirectories(data);
            // DataDirectory locks instance.lock per process; this one also keeps launchers in one JVM apart.
            held.add(lock(data.resolve("sandboxes.lock"), "data directory", "sandstream.data-dir"));
            this.runtime = RuntimeDirectory.open(runtimePath);
            if (!runtimePath.startsWith(data)) {
                held.add(lock(runtimePath.resolve("instance.lock"), "sandbox runtime directory", "sandstream.sessions.runtime-dir"));
            }
            runtime.prepareInBackground(config.python());
            runtime.buildFontCacheInBackground(config.python());
            for (Path dir : List.of(controlDir, fifoStockDir)) {
                Files.createDirectories(dir);
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
                try (var leftovers = Files.list(dir)) {
                    for (Path p : leftovers.toList()) {
                        Files.deleteIfExists(p);
                    }
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
        if (runtime != null) {
            runtime.close();
        }
        for (AutoCloseable lock : held) {
            try {
                lock.close();
            } catch (Exception e) {
                LOG.debugf("releasing %s failed: %s", lock, e.getMessage());
            }
        }
        held.clear();
        synchronized (this) {
            fifoStock.forEach(SandboxLauncher::deleteQuietly);
            fifoStock.clear();
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.debugf("removing %s failed: %s", p, e.getMessage());
        }
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
        // Waits only in the service's first moments, while the runners and the filter are compiled.
        runtime.awaitPrepared();
        runtime.verifyDirectory();
        // Waits only in the service's first second or so, while the font list is built.
        Optional<String> fontCache = kind == Runner.PYTHON ? runtime.awaitFontCache() : Optional.empty();
        String runner = kind.script;
        Path fifo = controlFifo(id);
        // A rename, never over an existing name: the FIFO is new to this sandbox, as mkfifo made it.
        Files.move(spareFifo(), fifo, StandardCopyOption.ATOMIC_MOVE);
        Optional<Path> cgroup = cgroupRoot.map(root -> Cgroups.createMemory(root, id, limits.memoryMib() * 1024L * 1024L));
        Optional<Path> cpuCgroup = cpuCgroupRoot.map(root -> Cgroups.createCpu(root, id, limits.cpuMillicores()));
        List<String> command = new ArrayList<>(List.of("/bin/sh", "-c",
                // As the service: open the control FIFO (fd 3), the seccomp filter (fd 5), the
                // runner (fd 6) and matplotlib's font list when there is one (fd 7); wait until the
                // service has checked what 5, 6 and 7 are; join the memory and cpu cgroups (v2: the
                // same one), then drop to the sandbox's own uid before bubblewrap starts.
                // Everything the sandbox ever starts stays in them.
                // Then the limits, set by the shell's ulimit (hard and soft) rather than by one more
                // exec'd wrapper (prlimit): each exec was a measurable part of a cold start.
                "exec 3<>\"$1\" 5<\"$2\" 6<\"$3\" || exit 120; if [ -n \"$6\" ]; then exec 7<\"$6\" || exit 120; fi;"
                        + " printf R; read -r checked || exit 122;"
                        + " for g in \"$4\" \"$5\"; do [ -z \"$g\" ] || echo $$ > \"$g/cgroup.procs\" || exit 121; done;"
                        + " " + ulimits(limits, cgroup.isEmpty() ? kind.addressSpaceReserveMib : -1) + " shift 6; exec \"$@\"",
                "sandbox", fifo.toString(), runtime.file(RuntimeDirectory.SECCOMP).toString(), runtime.file(runner).toString(),
                cgroup.map(Path::toString).orElse(""), cpuCgroup.map(Path::toString).orElse(""),
                fontCache.map(name -> runtime.file(RuntimeDirectory.FONT_CACHE).toString()).orElse("")));
        command.addAll(config.uidHelper()
                .map(helper -> List.of(helper.toString(), Integer.toString(uid), "--"))
                .orElse(uidSwitch(uid)));
        command.addAll(bwrapArguments(limits, runner, fontCache));
        switch (kind) {
            // -S: no site, so no .pth file of the host runs code in the sandbox; runner.py puts the
            // site directories on sys.path itself (docs/sandboxes.md).
            case PYTHON -> command.addAll(List.of(config.python(), "-I", "-S", "-u", "/opt/sandstream/" + runner));
            // Node cannot dup: the requests move to fd 4 and fd 0 becomes /dev/null here, so user
            // code reading its standard input never reads the control channel (the Python runners dup it themselves).
            case NODE -> command.addAll(List.of("/bin/sh", "-c", "exec \"$0\" \"$@\" 4<&0 0</dev/null", config.node(),
                    "--max-old-space-size=" + Math.max(16, limits.memoryMib() * 3 / 4), "/opt/sandstream/runner.js"));
            // The script runner is told its language and the memory limit (runtimes like the JVM size their heaps by it).
            default -> command.addAll(List.of(config.python(), "-I", "-S", "-u", "/opt/sandstream/" + runner,
                    kind.language.wireName(), Long.toString(limits.memoryMib())));
        }
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().clear();
        builder.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        Process process = builder.start();
        try {
            checkOpenedFiles(process, runner, fontCache.isPresent());
        } catch (IOException | RuntimeException e) {
            process.destroyForcibly();
            throw e;
        }
        return process;
    }

    /**
     * The default uid switch, as root: util-linux's {@code unshare} with no namespace to enter drops
     * the supplementary groups, then sets the gid and the uid (real, effective and saved; leaving
     * uid 0 clears every capability) and executes the command. It takes numbers only: {@code setpriv}
     * first looks each numeric id up as a name (NSS: /etc/passwd, /etc/group, libnss_systemd's
     * userdb probes) and loads libcap-ng: ≈ 3 ms of CPU more per sandbox start at a load of 30 on
     * the 2 cores (docs/benchmarks.md), for the same result.
     */
    static List<String> uidSwitch(int uid) {
        return List.of("unshare", "--setgid=" + uid, "--setuid=" + uid, "--");
    }

    /** A FIFO (mode 600) no sandbox has used, from the stock; one mkfifo refills it. */
    private synchronized Path spareFifo() throws IOException {
        if (fifoStock.isEmpty()) {
            List<String> command = new ArrayList<>(List.of("mkfifo", "-m", "600", "--"));
            List<Path> batch = new ArrayList<>();
            for (int i = 0; i < FIFO_BATCH; i++) {
                Path p = fifoStockDir.resolve(idPrefix + "-" + (fifosMade++) + ".ctl");
                batch.add(p);
                command.add(p.toString());
            }
            Process mkfifo = new ProcessBuilder(command).redirectErrorStream(true).start();
            try {
                String output = new String(mkfifo.getInputStream().readAllBytes());
                if (mkfifo.waitFor() != 0) {
                    batch.forEach(SandboxLauncher::deleteQuietly);
                    throw new IOException("mkfifo failed in " + fifoStockDir + ": " + output.strip());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                batch.forEach(SandboxLauncher::deleteQuietly);
                throw new IOException("interrupted", e);
            }
            fifoStock.addAll(batch);
        }
        return fifoStock.poll();
    }

    /**
     * The sandbox's rlimits as ulimit commands of /bin/sh (Debian's dash, whose {@code -p} is the
     * process limit and {@code -f}, {@code -c} count 512-byte blocks), each setting the hard and the
     * soft limit at once as prlimit did; a shell that refuses one (bash's {@code -p} is the pipe
     * size) stops the start. The hard CPU limit is set here, before anything of the sandbox runs: no
     * process in it can raise it (the runner lowers the soft one per execution; children may raise
     * theirs to it).
     *
     * @param addressSpaceReserveMib without a memory cgroup, the address space bounds memory (plus
     *        what the runtime reserves up front); negative: no address-space limit
     */
    static String ulimits(SandstreamConfig.Limits limits, long addressSpaceReserveMib) {
        List<String> set = new ArrayList<>(List.of("-p " + limits.pids(), "-n " + limits.openFiles(),
                "-f " + limits.fileSizeMib() * 2048L, "-c 0", "-t " + limits.processCpuSeconds()));
        if (addressSpaceReserveMib >= 0) {
            set.add("-v " + (limits.memoryMib() + addressSpaceReserveMib) * 1024L);
        }
        StringBuilder script = new StringBuilder();
        for (String limit : set) {
            script.append("ulimit ").append(limit).append(" || exit 123; ");
        }
        return script.toString();
    }

    /** The files the shell opened, checked through /proc (stat calls only), then the shell may go on. */
    private void checkOpenedFiles(Process process, String runner, boolean fontCache) throws IOException {
        if (process.getInputStream().read() != 'R') {
            throw new IOException("the sandbox's shell ended before its runtime files were checked (cannot open "
                    + runtime.file(RuntimeDirectory.SECCOMP) + " or " + runtime.file(runner) + "?)");
        }
        runtime.verifyOpened(process.pid(), 5, RuntimeDirectory.SECCOMP);
        runtime.verifyOpened(process.pid(), 6, runner);
        if (fontCache) {
            runtime.verifyOpened(process.pid(), 7, RuntimeDirectory.FONT_CACHE);
        }
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

    /**
     * Threads a numeric library may start: the cores the CPU quota grants, rounded up, and at most
     * a quarter of the pids limit. Left to themselves, OpenBLAS, OpenMP, numexpr and joblib size
     * their pools by the host's cores, which the sandbox cannot see past: on a large host that is
     * more threads than the pids limit allows (import fails) and, under the address-space rlimit,
     * more memory than it allows (OpenBLAS reserves a buffer per thread).
     */
    static int numericThreads(SandstreamConfig.Limits limits) {
        int cores = (int) Math.max(1, (limits.cpuMillicores() + 999L) / 1000);
        return Math.max(1, Math.min(cores, limits.pids() / 4));
    }

    private List<String> bwrapArguments(SandstreamConfig.Limits limits, String runner, Optional<String> fontCache) {
        String threads = Integer.toString(numericThreads(limits));
        List<String> args = new ArrayList<>(List.of("bwrap",
                "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                "--disable-userns",
                "--uid", Integer.toString(SANDBOX_UID), "--gid", Integer.toString(SANDBOX_UID), "--hostname", "sandbox",
                "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--clearenv", "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin", "--setenv", "HOME", "/mnt/data",
                "--setenv", "LANG", "C.UTF-8", "--setenv", "PYTHONDONTWRITEBYTECODE", "1", "--setenv", "MPLBACKEND", "Agg",
                // matplotlib's config and cache in the session's /tmp, not among its files in /mnt/data.
                "--setenv", "MPLCONFIGDIR", MPL_CONFIG_DIR,
                "--setenv", "OPENBLAS_NUM_THREADS", threads, "--setenv", "OMP_NUM_THREADS", threads,
                "--setenv", "MKL_NUM_THREADS", threads, "--setenv", "NUMEXPR_MAX_THREADS", threads,
                "--setenv", "LOKY_MAX_CPU_COUNT", threads,
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
        fontCache.ifPresent(name -> args.addAll(args.indexOf("--remount-ro"),
                List.of("--perms", "0444", "--ro-bind-data", "7", MPL_CONFIG_DIR + "/" + name)));
        // Debian's matplotlib reads its matplotlibrc from /etc only.
        List<String> etcPaths = new ArrayList<>(List.of("/etc/alternatives", "/etc/ssl", "/etc/ca-certificates",
                "/etc/matplotlibrc"));
        etcPaths.addAll(TOOLCHAIN_ETC);
        for (String etc : etcPaths) {
            if (Files.isDirectory(Path.of(etc)) || Files.isRegularFile(Path.of(etc))) {
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
