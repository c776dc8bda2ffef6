package io.sandstream.results;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.enterprise.context.ApplicationScoped;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.sessions.ExecutionUpdate;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.operators.multi.processors.BroadcastProcessor;

/**
 * In-process fan-out of what the pipeline produces: every persisted result, and the live output
 * of running executions. With a Kafka journal, the streams follow the results topic (every
 * instance sees every result) while the sinks get only what this instance ran.
 */
@ApplicationScoped
public class ResultBus {

    /** Something live about one execution: a status change ({@code output} null) or an output chunk. */
    public record LiveOutput(String executionId, ExecutionStatus status, ExecutionUpdate.Output output) {
    }

    private final BroadcastProcessor<StoredResult> results = BroadcastProcessor.create();
    private final BroadcastProcessor<StoredResult> executedHere = BroadcastProcessor.create();
    private final BroadcastProcessor<LiveOutput> outputs = BroadcastProcessor.create();
    private final Map<String, CompletableFuture<StoredResult>> waiters = new ConcurrentHashMap<>();
    /** With a Kafka journal, the results topic, read by every instance, feeds the streams. */
    private final boolean replicated;

    public ResultBus(SandstreamConfig config) {
        this.replicated = config.journal().kind() == SandstreamConfig.JournalKind.KAFKA;
    }

    /**
     * This instance stored the result of work it ran. It goes to the sinks (once, from the
     * instance that ran it); to the streams too, unless they follow the results topic.
     */
    public void published(StoredResult result) {
        executedHere.onNext(result);
        if (!replicated) {
            stored(result);
        }
    }

    /**
     * A result as this instance's copy of the store recorded it, whoever ran it: to the streams and
     * waiters. With Kafka, called in the results topic's order, so stream ids only grow.
     */
    public void stored(StoredResult result) {
        CompletableFuture<StoredResult> waiter = waiters.remove(result.document().executionId());
        if (waiter != null) {
            waiter.complete(result);
        }
        results.onNext(result);
    }

    /** Results of work this instance ran: what the sinks deliver. */
    public Multi<StoredResult> executedHere() {
        return executedHere;
    }

    public void output(String executionId, ExecutionUpdate.Output output) {
        outputs.onNext(new LiveOutput(executionId, null, output));
    }

    public void status(String executionId, ExecutionStatus status) {
        outputs.onNext(new LiveOutput(executionId, status, null));
    }

    public Multi<StoredResult> results() {
        return results;
    }

    public Multi<LiveOutput> outputs() {
        return outputs;
    }

    /** The result of one execution as soon as it is published; null after {@code timeout}. */
    public Uni<StoredResult> next(String executionId, Duration timeout) {
        CompletableFuture<StoredResult> waiter = waiters.computeIfAbsent(executionId, id -> new CompletableFuture<>());
        return Uni.createFrom().completionStage(waiter).ifNoItem().after(timeout).recoverWithItem((StoredResult) null)
                .onTermination().invoke(() -> {
                    if (!waiter.isDone()) {
                        waiters.remove(executionId, waiter);
                    }
                });
    }
}
