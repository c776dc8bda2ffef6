package io.sandstream.poolapi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.sandstream.config.TestConfigs;
import io.sandstream.model.Tenant;
import io.sandstream.sessions.SessionKey;

/** The store behind {@code GET executions/{id}}: forgets the oldest past its size, and any past its TTL. */
class AsyncExecutionsTest {

    /** A clock the test moves by hand. */
    static final class ManualClock extends Clock {
        Instant now = Instant.parse("2025-01-01T00:00:00Z");

        void advance(Duration by) {
            now = now.plus(by);
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }
    }

    final ManualClock clock = new ManualClock();

    AsyncExecutions store(int max, String ttl) {
        return new AsyncExecutions(TestConfigs.sandstream(Map.of("sandstream.pool-api.async-executions",
                Integer.toString(max), "sandstream.pool-api.async-execution-ttl", ttl)), clock);
    }

    static ResourceResponses.Execution running(String id) {
        return ResourceResponses.running(id, "session-1");
    }

    static final SessionKey SESSION_1 = new SessionKey(Tenant.SHARED, "session-1");

    static ResourceResponses.Execution done(String id) {
        return ResourceResponses.notStarted(id, "session-1", "done");
    }

    @Test
    void pastItsSizeTheOldestSubmittedIsForgottenFirst() {
        AsyncExecutions store = store(2, "1h");
        store.submitted(running("a"), SESSION_1);
        store.submitted(running("b"), SESSION_1);
        store.finished(done("a"));
        store.submitted(running("c"), SESSION_1);

        assertTrue(store.get("a", SESSION_1).isEmpty(), "the oldest is evicted, finished or not");
        assertEquals(ResourceResponses.Status.Running, store.get("b", SESSION_1).orElseThrow().status());
        assertEquals(ResourceResponses.Status.Running, store.get("c", SESSION_1).orElseThrow().status());

        // A late result of an evicted execution does not bring it back.
        store.finished(done("a"));
        assertTrue(store.get("a", SESSION_1).isEmpty());
    }

    @Test
    void anExecutionIsForgottenOnceItsTtlHasPassedSinceItWasSubmitted() {
        AsyncExecutions store = store(1000, "1h");
        store.submitted(running("a"), SESSION_1);
        clock.advance(Duration.ofMinutes(40));
        store.submitted(running("b"), SESSION_1);
        store.finished(done("a"));

        clock.advance(Duration.ofMinutes(20)); // a: exactly 1h old, still there
        assertEquals(ResourceResponses.Status.Failed, store.get("a", SESSION_1).orElseThrow().status());

        clock.advance(Duration.ofSeconds(1)); // a: past 1h; b: 20m 1s old
        assertTrue(store.get("a", SESSION_1).isEmpty());
        assertEquals(ResourceResponses.Status.Running, store.get("b", SESSION_1).orElseThrow().status());

        clock.advance(Duration.ofMinutes(40));
        assertTrue(store.get("b", SESSION_1).isEmpty());
    }

    @Test
    void anExecutionIsOnlyVisibleToItsOwnSession() {
        AsyncExecutions store = store(10, "1h");
        store.submitted(running("a"), SESSION_1);
        assertTrue(store.get("a", new SessionKey(Tenant.SHARED, "session-2")).isEmpty());
        assertTrue(store.get("a", SESSION_1).isPresent());
    }
}
