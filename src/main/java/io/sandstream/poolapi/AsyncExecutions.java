package io.sandstream.poolapi;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.sessions.SessionKey;

/**
 * The asynchronous executions {@code GET executions/{id}} can answer: at most
 * {@code sandstream.pool-api.async-executions} of them (the oldest submitted is forgotten first),
 * each for {@code sandstream.pool-api.async-execution-ttl} after it was submitted. In memory: a
 * restart forgets them, as it ends their sessions.
 */
@ApplicationScoped
public class AsyncExecutions {

    private record Entry(SessionKey session, Instant submittedAt, ResourceResponses.Execution body) {
    }

    private final int capacity;
    private final Duration ttl;
    private final Clock clock;
    private final LinkedHashMap<String, Entry> entries;

    @Inject
    public AsyncExecutions(SandstreamConfig config) {
        this(config, Clock.systemUTC());
    }

    /** With the clock that dates submissions and expires them (tests move it). */
    AsyncExecutions(SandstreamConfig config, Clock clock) {
        this.capacity = Math.max(1, config.poolApi().asyncExecutions());
        this.ttl = config.poolApi().asyncExecutionTtl();
        this.clock = clock;
        this.entries = new LinkedHashMap<>() {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Entry> eldest) {
                return size() > capacity;
            }
        };
    }

    /** Remembers a submitted execution of {@code session} as running. */
    public synchronized void submitted(ResourceResponses.Execution running, SessionKey session) {
        expire();
        entries.put(running.id(), new Entry(session, clock.instant(), running));
    }

    /** Records the final body, unless the execution was already forgotten. */
    public synchronized void finished(ResourceResponses.Execution done) {
        entries.computeIfPresent(done.id(), (id, entry) -> new Entry(entry.session(), entry.submittedAt(), done));
    }

    /** The execution's current body, when it belongs to this session (of this tenant) and is still remembered. */
    public synchronized Optional<ResourceResponses.Execution> get(String id, SessionKey session) {
        expire();
        Entry entry = entries.get(id);
        return entry == null || !entry.session().equals(session) ? Optional.empty() : Optional.of(entry.body());
    }

    /** Entries are in submission order, so the expired ones are at the head. */
    private void expire() {
        Instant oldest = clock.instant().minus(ttl);
        var it = entries.values().iterator();
        while (it.hasNext() && it.next().submittedAt().isBefore(oldest)) {
            it.remove();
        }
    }
}
