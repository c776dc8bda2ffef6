package io.sandstream.sessions.local;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import org.jboss.logging.Logger;

/**
 * Memory and CPU cgroups for sandboxes, where the host lets this process create them: cgroup v2 (a
 * delegated subtree with the controller enabled; one group holds both limits) or v1 (the memory and
 * cpu hierarchies, one group in each). Elsewhere (many containers) there is none: memory falls back
 * to an address-space rlimit, CPU to the per-process hard CPU rlimit alone.
 */
final class Cgroups {

    private static final Logger LOG = Logger.getLogger(Cgroups.class);
    /** CFS period of the CPU quota, microseconds (the kernel's default). */
    static final long CPU_PERIOD_US = 100_000;

    private Cgroups() {
    }

    /** The cgroup under which sandbox memory cgroups can be created, if any. */
    static Optional<Path> memoryRoot() {
        return root("memory", "memory.limit_in_bytes", "memory.max");
    }

    /** The cgroup under which sandbox CPU cgroups can be created, if any (v2: the same as {@link #memoryRoot()}). */
    static Optional<Path> cpuRoot() {
        return root("cpu", "cpu.cfs_quota_us", "cpu.max");
    }

    private static Optional<Path> root(String controller, String v1LimitFile, String v2LimitFile) {
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/self/cgroup"));
            for (String line : lines) {
                String[] parts = line.split(":", 3);
                if (parts.length == 3 && List.of(parts[1].split(",")).contains(controller)) {
                    // v1: the hierarchy is mounted under its controller's name (a combined mount such as
                    // cpu,cpuacct has that name as a symlink).
                    Path root = Path.of("/sys/fs/cgroup/" + controller + parts[2]);
                    if (usable(root, v1LimitFile)) {
                        return Optional.of(root);
                    }
                }
            }
            for (String line : lines) {
                if (line.startsWith("0::")) {
                    Path root = Path.of("/sys/fs/cgroup" + line.substring(3));
                    if (List.of(Files.readString(root.resolve("cgroup.subtree_control")).trim().split(" ")).contains(controller)
                            && usable(root, v2LimitFile)) {
                        return Optional.of(root);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debugf("no usable %s cgroup: %s", controller, e.getMessage());
        }
        return Optional.empty();
    }

    private static boolean usable(Path root, String limitFile) {
        Path probe = root.resolve("sandstream-probe-" + ProcessHandle.current().pid());
        try {
            Files.createDirectory(probe);
            boolean ok = Files.isWritable(probe.resolve(limitFile));
            Files.delete(probe);
            return ok;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    static Path group(Path root, String id) {
        return root.resolve("sandstream-" + id);
    }

    static Path createMemory(Path root, String id, long bytes) {
        Path group = group(root, id);
        try {
            Files.createDirectories(group);
            if (Files.exists(group.resolve("memory.max"))) {
                Files.writeString(group.resolve("memory.max"), Long.toString(bytes));
                Files.writeString(group.resolve("memory.swap.max"), "0");
            } else {
                Files.writeString(group.resolve("memory.limit_in_bytes"), Long.toString(bytes));
                if (Files.exists(group.resolve("memory.memsw.limit_in_bytes"))) {
                    Files.writeString(group.resolve("memory.memsw.limit_in_bytes"), Long.toString(bytes));
                }
            }
            return group;
        } catch (IOException e) {
            throw new IllegalStateException("cannot create the memory cgroup " + group, e);
        }
    }

    /** A group whose processes together get {@code millicores}/1000 of a core per period. */
    static Path createCpu(Path root, String id, int millicores) {
        Path group = group(root, id);
        long quota = Math.max(1000, millicores * CPU_PERIOD_US / 1000); // the kernel's least quota is 1 ms
        try {
            Files.createDirectories(group);
            if (Files.exists(group.resolve("cpu.max"))) {
                Files.writeString(group.resolve("cpu.max"), quota + " " + CPU_PERIOD_US);
            } else {
                Files.writeString(group.resolve("cpu.cfs_period_us"), Long.toString(CPU_PERIOD_US));
                Files.writeString(group.resolve("cpu.cfs_quota_us"), Long.toString(quota));
            }
            return group;
        } catch (IOException e) {
            throw new IllegalStateException("cannot create the cpu cgroup " + group, e);
        }
    }

    /** Periods in which the group ran out of its CPU quota ({@code nr_throttled} of {@code cpu.stat}; v1 and v2). */
    static long throttledPeriods(Path group) {
        try {
            return Files.readAllLines(group.resolve("cpu.stat")).stream().filter(l -> l.startsWith("nr_throttled "))
                    .mapToLong(l -> Long.parseLong(l.substring("nr_throttled ".length()).trim())).findFirst().orElse(0);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** True when the kernel's OOM killer acted inside the sandbox's cgroup. */
    static boolean oomKilled(Path group) {
        try {
            Path events = group.resolve("memory.events");
            if (Files.exists(events)) {
                return Files.readAllLines(events).stream().anyMatch(l -> l.startsWith("oom_kill ") && !l.endsWith(" 0"));
            }
            return Files.readAllLines(group.resolve("memory.oom_control")).stream()
                    .anyMatch(l -> l.startsWith("oom_kill ") && !l.endsWith(" 0"))
                    || !Files.readString(group.resolve("memory.failcnt")).trim().equals("0");
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * The OOM killer's count of one sandbox's cgroup, read before and after every execution. The
     * file stays open and is read again from its start (the kernel writes it afresh for each read),
     * into one buffer: one system call and no allocation per read, where opening and decoding the
     * file each time was a measurable part of the service's CPU per execution.
     */
    static final class OomKillCount implements AutoCloseable {
        private static final byte[] KEY = "oom_kill ".getBytes(StandardCharsets.US_ASCII);
        private final ByteBuffer buffer = ByteBuffer.allocate(1024);
        private FileChannel file;

        OomKillCount(Path group) {
            Path events = group.resolve("memory.events");
            try {
                file = FileChannel.open(Files.exists(events) ? events : group.resolve("memory.oom_control"));
            } catch (IOException | RuntimeException e) {
                file = null; // cannot tell: 0, as before
            }
        }

        /** 0 when it cannot tell (no cgroup, or it is gone). */
        synchronized long read() {
            if (file == null) {
                return 0;
            }
            try {
                buffer.clear();
                while (buffer.hasRemaining() && file.read(buffer, buffer.position()) > 0) {
                    // a cgroup file is short: one read, rarely two
                }
            } catch (IOException e) {
                return 0;
            }
            for (int line = 0; line < buffer.position(); line++) {
                if ((line == 0 || buffer.get(line - 1) == '\n') && startsWithKey(line)) {
                    long count = 0;
                    for (int i = line + KEY.length; i < buffer.position() && Character.isDigit(buffer.get(i)); i++) {
                        count = count * 10 + (buffer.get(i) - '0');
                    }
                    return count;
                }
            }
            return 0;
        }

        private boolean startsWithKey(int at) {
            for (int i = 0; i < KEY.length; i++) {
                if (at + i >= buffer.position() || buffer.get(at + i) != KEY[i]) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public synchronized void close() {
            try {
                if (file != null) {
                    file.close();
                }
            } catch (IOException e) {
                // nothing to release then
            }
            file = null;
        }
    }

    static void remove(Path root, String id) {
        Path group = group(root, id);
        for (int attempt = 0; attempt < 50 && Files.exists(group); attempt++) {
            try {
                Files.delete(group); // cgroup directories are removed with rmdir once empty
            } catch (IOException e) {
                try {
                    Thread.sleep(20);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }
}
