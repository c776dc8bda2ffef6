package io.sandstream.results;

import java.util.List;
import java.util.Optional;

import io.smallrye.mutiny.Uni;

/**
 * Where results live. Idempotent by executionId: storing the same execution twice keeps the first
 * result, so a replay after a crash can never produce two. The embedded default is SQLite.
 */
public interface ResultStore {

    /** Stores the result durably; the stored one (the earlier one when it existed already). */
    Uni<StoredResult> put(ResultDocument document);

    Uni<Optional<StoredResult>> get(String executionId);

    /** Results stored after {@code sequence}, oldest first, at most {@code limit}. */
    Uni<List<StoredResult>> after(long sequence, int limit);
}
