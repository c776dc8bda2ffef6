package io.sandstream;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Finds the sandbox processes of one instance only: other services, and their sandboxes, may run
 * on the same machine. In this JVM, by the uid block its launcher claimed (exclusive host-wide
 * while the launcher holds it); for a packaged service, by descent from the service's process
 * (read from /proc, since sandbox uids have no passwd entry).
 */
public final class SandboxProcesses {

    private SandboxProcesses() {
    }

    /**
     * Processes running as a uid of [firstUid, firstUid + 4096): pass the first uid a launcher of
     * this JVM claimed ({@code SandboxLauncher.firstUid()}), and ask while it still holds it.
     */
    public static List<String> inUidBlock(long firstUid) {
        return handlesInUidBlock(firstUid).stream().map(SandboxProcesses::describe).toList();
    }

    /** Handles of the processes running as a uid of [firstUid, firstUid + 4096). */
    public static List<ProcessHandle> handlesInUidBlock(long firstUid) {
        return ProcessHandle.allProcesses().filter(p -> uid(p.pid()) >= firstUid && uid(p.pid()) < firstUid + 4096).toList();
    }

    /** The service's descendants that run as another uid than the service itself: its sandboxes. */
    public static List<ProcessHandle> sandboxesOf(ProcessHandle service) {
        long serviceUid = uid(service.pid());
        return service.descendants().filter(p -> {
            long uid = uid(p.pid());
            return uid >= 0 && uid != serviceUid;
        }).toList();
    }

    /** Those of {@code processes} still alive (a handle knows its start time: a reused pid is not it). */
    public static List<String> alive(List<ProcessHandle> processes) {
        return processes.stream().filter(ProcessHandle::isAlive).map(SandboxProcesses::describe).toList();
    }

    private static String describe(ProcessHandle p) {
        return p.pid() + " " + p.info().commandLine().orElse("?");
    }

    private static long uid(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("Uid:")) {
                    return Long.parseLong(line.split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // the process ended meanwhile
        }
        return -1;
    }

    public static boolean waitFor(BooleanSupplier condition) throws InterruptedException {
        for (int i = 0; i < 100; i++) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(100);
        }
        return false;
    }
}
