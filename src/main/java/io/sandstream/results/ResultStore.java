package io.sandstream.results;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.sandstream.model.ResultDocument;
import io.smallrye.mutiny.Uni;

/**
 * Where results live. Idempotent by executionId: storing the same execution twice keeps the first
 * result, so a replay after a crash can never produce two. The embedded default is SQLite; the
 * configured one is chosen by the wiring's {@code ResultStoreProducer}.
 */
public interface ResultStore {

    /**
     * Stores the result durably; the stored one (the earlier one when it existed already). May
     * complete on the store's own thread (SQLite's writer, Kafka's producer network thread): the
     * caller moves its work off it.
     */
    Uni<StoredResult> put(ResultDocument document);

    Uni<Optional<StoredResult>> get(String executionId);

    /**
     * Whether a result of the execution is stored, answered on the caller's thread. The Kafka
     * journal asks for each lane record it takes, on its consumer's thread (a redelivered or
     * re-accepted event must not run twice), where a hop to a reader thread and back would cost
     * more than the read.
     */
    default boolean storedNow(String executionId) {
        return get(executionId).await().indefinitely().isPresent();
    }

    /** Results stored after {@code sequence}, oldest first, at most {@code limit}. */
    Uni<List<StoredResult>> after(long sequence, int limit);

    /** The sequence of the last result stored, 0 when none: where a stream of new results starts. */
    Uni<Long> latest();

    /**
     * Completes once this instance's copy holds every result stored anywhere before the call (at
     * once for a store of one instance; with Kafka, when the results topic is read up to its end).
     */
    default Uni<Void> caughtUp() {
        return Uni.createFrom().voidItem();
    }

    /** For readiness: can the store take writes now. Bounded in time; never fails. */
    default Uni<Health> health() {
        return Uni.createFrom().item(new Health(true, Map.of()));
    }

    /** {@code data} is shown as is in {@code /q/health/ready}. */
    record Health(boolean up, Map<String, Object> data) {
    }
}
