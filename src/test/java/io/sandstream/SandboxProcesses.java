package io.sandstream;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Finds processes running as sandbox uids (a launcher's 4096 uids from its first one), read from
 * /proc since those uids have no passwd entry.
 */
public final class SandboxProcesses {

    private SandboxProcesses() {
    }

    public static final long DEFAULT_FIRST_UID = 200_000;

    public static List<String> running() {
        return running(DEFAULT_FIRST_UID);
    }

    public static List<String> running(long firstUid) {
        return ProcessHandle.allProcesses().filter(p -> uid(p.pid()) >= firstUid && uid(p.pid()) < firstUid + 4096)
                .map(p -> p.pid() + " " + p.info().commandLine().orElse("?")).toList();
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
