package io.sandstream.sessions.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import org.jboss.logging.Logger;

/**
 * Memory cgroups for sandboxes, where the host lets this process create them: cgroup v2 (a
 * delegated subtree with the memory controller) or v1 (the memory hierarchy). Elsewhere (many
 * containers) there is none, and the launcher falls back to an address-space rlimit.
 */
final class Cgroups {

    private static final Logger LOG = Logger.getLogger(Cgroups.class);

    private Cgroups() {
    }

    /** The cgroup under which sandbox cgroups can be created, if any. */
    static Optional<Path> memoryRoot() {
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/self/cgroup"));
            for (String line : lines) {
                String[] parts = line.split(":", 3);
                if (parts.length == 3 && List.of(parts[1].split(",")).contains("memory")) {
                    Path root = Path.of("/sys/fs/cgroup/memory" + parts[2]);
                    if (usable(root, "memory.limit_in_bytes")) {
                        return Optional.of(root);
                    }
                }
            }
            for (String line : lines) {
                if (line.startsWith("0::")) {
                    Path root = Path.of("/sys/fs/cgroup" + line.substring(3));
                    if (Files.readString(root.resolve("cgroup.subtree_control")).contains("memory")
                            && usable(root, "memory.max")) {
                        return Optional.of(root);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debugf("no usable memory cgroup: %s", e.getMessage());
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

    static Path create(Path root, String id, long bytes) {
        Path group = root.resolve("sandstream-" + id);
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

    /** How many processes the kernel's OOM killer has killed in the cgroup; 0 when it cannot tell. */
    static long oomKills(Path group) {
        Path events = group.resolve("memory.events");
        try {
            List<String> lines = Files.readAllLines(Files.exists(events) ? events : group.resolve("memory.oom_control"));
            return lines.stream().filter(l -> l.startsWith("oom_kill ")).mapToLong(l -> Long.parseLong(l.substring(9).trim()))
                    .findFirst().orElse(0);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    static void remove(Path root, String id) {
        Path group = root.resolve("sandstream-" + id);
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
