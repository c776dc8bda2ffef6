package io.sandstream.results;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.enterprise.context.ApplicationScoped;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.sessions.ExecutionUpdate;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.operators.multi.processors.BroadcastProcessor;

/**
 * In-process fan-out of what the pipeline produces: every persisted result, and the live output
 * of running executions. With a Kafka journal, the streams follow the results topic (every
 * instance sees every result) while the sinks get only what this instance ran; live output of this
 * instance's executions goes out to the live topic ({@link #outputsHere}) and what other instances
 * send comes back in ({@link #relayed}), so a stream sees the same on every instance.
 */
@ApplicationScoped
public class ResultBus {

    /** Something live about one execution: a status change ({@code output} null) or an output chunk. */
    public record LiveOutput(String executionId, ExecutionStatus status, ExecutionUpdate.Output output) {
    }

    private final BroadcastProcessor<StoredResult> results = BroadcastProcessor.create();
    private final BroadcastProcessor<StoredResult> executedHere = BroadcastProcessor.create();
    private final BroadcastProcessor<LiveOutput> outputs = BroadcastProcessor.create();
    private final BroadcastProcessor<LiveOutput> outputsHere = BroadcastProcessor.create();
    private final Map<String, CompletableFuture<StoredResult>> waiters = new ConcurrentHashMap<>();
    /** With a Kafka journal, the results topic, read by every instance, feeds the streams. */
    private final boolean replicated;
    /** Live output of executions run elsewhere: how far it has been relayed here, per execution. */
    private final Cache<String, LiveProgress> progress = Caffeine.newBuilder().maximumSize(100_000)
            .expireAfterAccess(Duration.ofMinutes(10)).executor(Runnable::run).build();
    private final Duration resultWait;
    private final Counter incomplete;

    public ResultBus(SandstreamConfig config, MeterRegistry registry) {
        this.replicated = config.journal().kind() == SandstreamConfig.JournalKind.KAFKA;
        this.resultWait = config.kafka().live().resultWait();
        this.incomplete = replicated ? Counter.builder("sandstream.live.incomplete")
                .description("Execution streams that sent a result before all of its live output from another instance arrived")
                .register(registry) : null;
        Gauge.builder("sandstream.results.waiters", waiters, Map::size)
                .description("Callers waiting for one execution's result (?wait=, MCP run_code)").register(registry);
    }

    /**
     * The live records of one execution run on another instance: the last one relayed here and
     * how many its result says were sent, and who waits for the rest.
     */
    private static final class LiveProgress {
        private int relayed;
        private int expected = -1;
        private final CompletableFuture<Void> complete = new CompletableFuture<>();

        synchronized void relayed(int seq) {
            relayed = Math.max(relayed, seq);
            check();
        }

        synchronized void expect(int count) {
            expected = count;
            check();
        }

        private void check() {
            if (expected >= 0 && relayed >= expected) {
                complete.complete(null);
            }
        }
    }

    /**
     * This instance stored the result of work it ran. It goes to the sinks (once, from the
     * instance that ran it) and to its waiters; to the streams too, unless they follow the results
     * topic (with Kafka a waiter here need not wait for this instance's copy to read it back).
     */
    public void published(StoredResult result) {
        executedHere.onNext(result);
        if (replicated) {
            answer(result);
        } else {
            stored(result);
        }
    }

    /**
     * A result as this instance's copy of the store recorded it, whoever ran it: to the streams and
     * waiters. With Kafka, called in the results topic's order, so stream ids only grow.
     */
    public void stored(StoredResult result) {
        answer(result);
        results.onNext(result);
    }

    private void answer(StoredResult result) {
        CompletableFuture<StoredResult> waiter = waiters.remove(result.document().executionId());
        if (waiter != null) {
            waiter.complete(result);
        }
    }

    /** Results of work this instance ran: what the sinks deliver. */
    public Multi<StoredResult> executedHere() {
        return executedHere;
    }

    /** An output chunk of an execution running here. */
    public void output(String executionId, ExecutionUpdate.Output output) {
        here(new LiveOutput(executionId, null, output));
    }

    /** A status change of an execution running here. */
    public void status(String executionId, ExecutionStatus status) {
        here(new LiveOutput(executionId, status, null));
    }

    private void here(LiveOutput live) {
        outputs.onNext(live);
        if (replicated) {
            outputsHere.onNext(live);
        }
    }

    /** Live output of executions running here: what the live topic carries to the other instances. */
    public Multi<LiveOutput> outputsHere() {
        return outputsHere;
    }

    /** Live output another instance sent: its {@code seq}-th record (from 1) for that execution. */
    public void relayed(LiveOutput live, int seq) {
        outputs.onNext(live);
        progress.get(live.executionId(), id -> new LiveProgress()).relayed(seq);
    }

    /**
     * The result of an execution run on another instance says it sent {@code count} live records;
     * called before the result is {@link #stored}.
     */
    public void expectLive(String executionId, int count) {
        if (count > 0) {
            progress.get(executionId, id -> new LiveProgress()).expect(count);
        }
    }

    /**
     * Completes once every live record of the execution that its result announced has been
     * relayed here, or after {@code sandstream.kafka.live.result-wait}: what a stream waits for
     * before it sends the result, so chunks come before it as on the instance that ran it. At once
     * on a single instance, and for work run here (its output was published before its result).
     */
    public Uni<Void> liveComplete(String executionId) {
        LiveProgress live = replicated ? progress.getIfPresent(executionId) : null;
        if (live == null || live.complete.isDone()) {
            return Uni.createFrom().voidItem();
        }
        synchronized (live) {
            if (live.expected < 0) {
                return Uni.createFrom().voidItem(); // no result announced a count: nothing to wait for
            }
        }
        return Uni.createFrom().completionStage(live.complete).ifNoItem().after(resultWait)
                .recoverWithItem(() -> {
                    incomplete.increment();
                    return null;
                });
    }

    public Multi<StoredResult> results() {
        return results;
    }

    public Multi<LiveOutput> outputs() {
        return outputs;
    }

    /** The result of one execution as soon as it is published; null after {@code timeout}. */
    public Uni<StoredResult> next(String executionId, Duration timeout) {
        return await(executionId, waiters.computeIfAbsent(executionId, id -> new CompletableFuture<>()), timeout);
    }

    /**
     * Waits for the result of what {@code submission} submits: the waiter is registered before the
     * submission runs, so a fast result cannot be missed, and dropped again when the submission
     * fails (refused, not journalled: no result will come), whose failure the caller then gets.
     */
    public Uni<StoredResult> nextAfter(Uni<?> submission, String executionId, Duration timeout) {
        CompletableFuture<StoredResult> waiter = waiters.computeIfAbsent(executionId, id -> new CompletableFuture<>());
        return submission.onFailure().invoke(refused -> waiters.remove(executionId, waiter))
                .flatMap(ignored -> await(executionId, waiter, timeout));
    }

    private Uni<StoredResult> await(String executionId, CompletableFuture<StoredResult> waiter, Duration timeout) {
        return Uni.createFrom().completionStage(waiter).ifNoItem().after(timeout).recoverWithItem((StoredResult) null)
                .onTermination().invoke(() -> {
                    if (!waiter.isDone()) {
                        waiters.remove(executionId, waiter);
                    }
                });
    }
}
