package io.sandstream.sessions.local;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.jboss.logging.Logger;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.routing.Language;

/**
 * Builds and starts the sandbox processes: the runner scripts and seccomp filter on disk, a host
 * uid of its own per sandbox, a memory cgroup where the host lets us create one, and the
 * bubblewrap command line that puts it all together.
 */
public final class SandboxLauncher {

    private static final Logger LOG = Logger.getLogger(SandboxLauncher.class);
    static final int SANDBOX_UID = 1000;
    private static final int MAX_UIDS = 4096;

    private final SandstreamConfig.Sessions config;
    private final Path runtimeDir;
    private final Path controlDir;
    private final Optional<Path> cgroupRoot;
    private final BitSet uidsInUse = new BitSet(MAX_UIDS);
    /** Prefix of this launcher's sandbox ids (FIFOs, cgroups): unique per service run. */
    final String idPrefix = Long.toString(ProcessHandle.current().pid(), 36) + "-"
            + Long.toString(System.nanoTime() & 0xffffff, 36);

    public SandboxLauncher(SandstreamConfig.Sessions config, Path dataDir) {
        this.config = config;
        this.runtimeDir = config.runtimeDir().orElse(Path.of(System.getProperty("java.io.tmpdir"), "sandstream-runtime"));
        this.controlDir = dataDir.resolve("sandboxes");
        try {
            Files.createDirectories(runtimeDir);
            Files.setPosixFilePermissions(runtimeDir, PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.createDirectories(controlDir);
            Files.setPosixFilePermissions(controlDir, PosixFilePermissions.fromString("rwx------"));
            try (var leftovers = Files.list(controlDir)) {
                for (Path p : leftovers.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            for (String script : List.of("runner.py", "runner.js", "seccomp_filter.py")) {
                try (InputStream in = SandboxLauncher.class.getResourceAsStream("/sandbox/" + script)) {
                    Files.copy(in, runtimeDir.resolve(script), StandardCopyOption.REPLACE_EXISTING);
                }
                Files.setPosixFilePermissions(runtimeDir.resolve(script), PosixFilePermissions.fromString("rw-r--r--"));
            }
            compileSeccompFilter();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the sandbox runtime in " + runtimeDir, e);
        }
        this.cgroupRoot = Cgroups.memoryRoot();
        LOG.infof("sandboxes: runtime %s, memory limits by %s", runtimeDir,
                cgroupRoot.map(p -> "cgroup " + p).orElse("address-space rlimit (no writable memory cgroup)"));
    }

    private void compileSeccompFilter() throws IOException {
        Path filter = runtimeDir.resolve("seccomp.bpf");
        Process compile = new ProcessBuilder(config.python(), runtimeDir.resolve("seccomp_filter.py").toString(),
                filter.toString()).redirectErrorStream(true).start();
        try {
            String output = new String(compile.getInputStream().readAllBytes());
            if (!compile.waitFor(30, TimeUnit.SECONDS) || compile.exitValue() != 0) {
                throw new IllegalStateException("cannot build the seccomp filter (is python3-seccomp installed?): " + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while building the seccomp filter", e);
        }
    }

    /** True when memory is limited by cgroup (a breach is an OOM kill) rather than by rlimit. */
    public boolean memoryByCgroup() {
        return cgroupRoot.isPresent();
    }

    synchronized int allocateUid() {
        int slot = uidsInUse.nextClearBit(0);
        if (slot >= MAX_UIDS) {
            throw new IllegalStateException("no free sandbox uid");
        }
        uidsInUse.set(slot);
        return config.firstUid() + slot;
    }

    synchronized void releaseUid(int uid) {
        uidsInUse.clear(uid - config.firstUid());
    }

    Path controlFifo(String id) {
        return controlDir.resolve(id + ".ctl");
    }

    /** Creates the control FIFO and memory cgroup for a sandbox, and starts its process. */
    Process start(String id, int uid, Language language, SandstreamConfig.Limits limits) throws IOException {
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
        Optional<Path> cgroup = cgroupRoot.map(root -> Cgroups.create(root, id, limits.memoryMib() * 1024L * 1024L));
        List<String> command = new ArrayList<>(List.of("/bin/sh", "-c",
                // As root: open the control FIFO (fd 3) and the seccomp filter (fd 5), join the
                // cgroup, then drop to the sandbox's own uid before bubblewrap starts.
                "exec 3<>\"$1\" 5<\"$2\" || exit 120; [ -z \"$3\" ] || echo $$ > \"$3/cgroup.procs\" || exit 121; shift 3; exec \"$@\"",
                "sandbox", fifo.toString(), runtimeDir.resolve("seccomp.bpf").toString(),
                cgroup.map(Path::toString).orElse("")));
        command.addAll(List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--"));
        command.addAll(List.of("prlimit", "--nproc=" + limits.pids(), "--nofile=" + limits.openFiles(),
                "--fsize=" + limits.fileSizeMib() * 1024L * 1024L, "--core=0"));
        if (cgroup.isEmpty()) {
            // Without a cgroup, the address space bounds memory; V8 reserves about 1 GiB of it up front.
            long reserve = language == Language.JAVASCRIPT ? 1024L : 64L;
            command.add("--as=" + (limits.memoryMib() + reserve) * 1024L * 1024L);
        }
        command.add("--");
        command.addAll(bwrapArguments(limits));
        if (language == Language.PYTHON) {
            command.addAll(List.of(config.python(), "-I", "-u", "/opt/sandstream/runner.py"));
        } else {
            command.addAll(List.of(config.node(), "--max-old-space-size=" + Math.max(16, limits.memoryMib() * 3 / 4),
                    "/opt/sandstream/runner.js"));
        }
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().clear();
        builder.environment().put("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        return builder.start();
    }

    private List<String> bwrapArguments(SandstreamConfig.Limits limits) {
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
                "--size", Long.toString(limits.tmpMib() * 1024L * 1024L), "--tmpfs", "/tmp",
                "--size", Long.toString(limits.dataMib() * 1024L * 1024L), "--perms", "0777", "--tmpfs", "/mnt/data",
                "--ro-bind", runtimeDir.toString(), "/opt/sandstream",
                // The root is bwrap's own tmpfs: read-only once built, so only the sized mounts take writes.
                "--remount-ro", "/",
                "--chdir", "/mnt/data",
                "--seccomp", "5",
                "--"));
        for (String etc : List.of("/etc/alternatives", "/etc/ssl", "/etc/ca-certificates")) {
            if (Files.isDirectory(Path.of(etc))) {
                args.addAll(args.indexOf("--proc"), List.of("--ro-bind", etc, etc));
            }
        }
        return args;
    }

    void cleanup(String id) {
        cleanupFifo(id);
        cgroupRoot.ifPresent(root -> Cgroups.remove(root, id));
    }

    void cleanupFifo(String id) {
        try {
            Files.deleteIfExists(controlFifo(id));
        } catch (IOException e) {
            LOG.debugf("removing the control FIFO of %s failed: %s", id, e.getMessage());
        }
    }

    Optional<Path> cgroup(String id) {
        return cgroupRoot.map(root -> root.resolve("sandstream-" + id));
    }
}
