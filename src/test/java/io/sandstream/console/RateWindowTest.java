package io.sandstream.console;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

class RateWindowTest {

    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    private final AtomicLong now = new AtomicLong(1_000 * SECOND);
    private final RateWindow window = new RateWindow(5 * SECOND, SECOND / 4, now::get);

    private double at(long seconds, double total) {
        now.set(1_000 * SECOND + seconds * SECOND);
        return window.rate(total);
    }

    @Test
    void zeroUntilTimeHasPassed() {
        assertEquals(0, at(0, 10));
        assertEquals(0, at(0, 12), "no elapsed time, no rate");
    }

    @Test
    void measuresOverTheWindowFromTheNewestSampleOldEnough() {
        at(0, 0);
        assertEquals(10, at(1, 10), 1e-9);
        assertEquals(10, at(2, 20), 1e-9);
        assertEquals(10, at(5, 50), 1e-9);
        // At 8 s the samples of 0, 1 and 2 s are older than the window; 2 s (total 20) is the base.
        assertEquals((80 - 20) / 6.0, at(8, 80), 1e-9);
    }

    @Test
    void aQuietPeriodFallsToZeroAndAViewerAfterALongPauseGetsTheAverage() {
        at(0, 0);
        at(1, 10);
        at(2, 10);
        assertEquals(0, at(9, 10), 1e-9);
        // Nobody looked for a minute: the rate is the average since the last look.
        assertEquals(60 / 60.0, at(69, 70), 1e-9);
    }

    @Test
    void aCounterThatWentBackwardsIsNoNegativeRate() {
        at(0, 100);
        assertEquals(0, at(1, 50));
    }
}
