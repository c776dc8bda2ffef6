package io.sandstream.console;

import java.util.ArrayDeque;
import java.util.function.LongSupplier;

/**
 * A per-second rate of a monotonic total, over roughly the last {@code window}: each reading adds
 * a sample (at most one per {@code minSpacing}), and the rate is measured from the newest sample
 * that is at least a window old (or the oldest one, early on). Sampled by whoever asks, so the
 * console needs no timer of its own; several viewers share one history.
 */
final class RateWindow {

    private record Sample(long nanos, double total) {
    }

    private final long windowNanos;
    private final long minSpacingNanos;
    private final LongSupplier clock;
    private final ArrayDeque<Sample> samples = new ArrayDeque<>();

    RateWindow(long windowNanos, long minSpacingNanos, LongSupplier clock) {
        this.windowNanos = windowNanos;
        this.minSpacingNanos = minSpacingNanos;
        this.clock = clock;
    }

    /** Records {@code total} now and answers the rate per second over the window (0 until there are two samples). */
    synchronized double rate(double total) {
        long now = clock.getAsLong();
        Sample newest = samples.peekLast();
        if (newest == null || now - newest.nanos() >= minSpacingNanos) {
            samples.addLast(new Sample(now, total));
        }
        // Keep exactly one sample at or before the window's start: the base of the measurement.
        while (samples.size() > 2 && now - secondOldest().nanos() >= windowNanos) {
            samples.removeFirst();
        }
        Sample base = samples.peekFirst();
        long elapsed = now - base.nanos();
        if (elapsed <= 0) {
            return 0;
        }
        return Math.max(0, total - base.total()) * 1e9 / elapsed;
    }

    private Sample secondOldest() {
        var it = samples.iterator();
        it.next();
        return it.next();
    }
}
