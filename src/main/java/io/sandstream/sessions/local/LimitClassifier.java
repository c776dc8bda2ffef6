package io.sandstream.sessions.local;

import io.sandstream.sessions.ExecutionResult.LimitHit;

/**
 * Names the limit behind a failure the code saw when the limit made a call fail rather than
 * killing it: the runner's own error, or what a child process said on stderr before it died
 * (a fork refused by the process limit, an allocation refused by the memory limit).
 */
final class LimitClassifier {

    private LimitClassifier() {
    }

    static LimitHit fromError(String type, String message) {
        if (type == null) {
            return null;
        }
        String text = message == null ? "" : message;
        if (type.equals("MemoryError")) {
            return LimitHit.memory;
        }
        if (type.equals("CpuLimitExceeded")) { // script_runner.py: a compiler or program ran out of the CPU budget
            return LimitHit.cpu;
        }
        if (type.equals("BlockingIOError") && text.contains("Resource temporarily unavailable")) {
            return LimitHit.pids;
        }
        return fromText(text);
    }

    /** The execution's stderr: children that hit a limit report it there, and the code may carry on. */
    static LimitHit fromOutput(String stderr) {
        if (stderr == null || stderr.isEmpty()) {
            return null;
        }
        if (stderr.contains("MemoryError")) {
            return LimitHit.memory;
        }
        if (stderr.contains("Resource temporarily unavailable") || stderr.contains("Cannot fork")
                || stderr.contains("fork: retry")) {
            return LimitHit.pids;
        }
        return fromText(stderr);
    }

    private static LimitHit fromText(String text) {
        if (text.contains("Cannot allocate memory") || text.contains("heap out of memory")
                || text.contains("java.lang.OutOfMemoryError") || text.contains("failed to allocate memory")
                || text.contains("fatal error: runtime: out of memory")) {
            return LimitHit.memory;
        }
        if (text.contains("No space left on device") || text.contains("File too large") || text.contains("ENOSPC")
                || text.contains("EFBIG")) {
            return LimitHit.disk;
        }
        if (text.contains("can't start new thread") || text.contains("EAGAIN")) {
            return LimitHit.pids;
        }
        return null;
    }
}
