package io.sandstream.sessions.local;

import io.sandstream.sessions.ExecutionResult.LimitHit;

/** Names the limit behind an error the code saw when the limit made a call fail rather than killing it. */
final class LimitClassifier {

    private LimitClassifier() {
    }

    static LimitHit fromError(String type, String message) {
        if (type == null) {
            return null;
        }
        String text = message == null ? "" : message;
        if (type.equals("MemoryError") || text.contains("Cannot allocate memory") || text.contains("heap out of memory")) {
            return LimitHit.memory;
        }
        if (text.contains("No space left on device") || text.contains("File too large") || text.contains("ENOSPC")
                || text.contains("EFBIG")) {
            return LimitHit.disk;
        }
        if ((type.equals("BlockingIOError") && text.contains("Resource temporarily unavailable"))
                || text.contains("can't start new thread") || text.contains("EAGAIN")) {
            return LimitHit.pids;
        }
        return null;
    }
}
