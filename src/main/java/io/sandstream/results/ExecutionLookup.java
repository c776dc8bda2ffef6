package io.sandstream.results;

import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;

import io.sandstream.journal.Journal;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.ResultDocument;
import io.sandstream.tenancy.KeyScope;
import io.smallrye.mutiny.Uni;

/**
 * The one answer to "which execution is this, as this caller may see it": its stored result, or
 * while it has none its journalled state. An execution whose subject is outside the caller's
 * scope is not there at all, exactly like one that does not exist (a 404, never a 403).
 */
@ApplicationScoped
public class ExecutionLookup {

    private final ResultStore store;
    private final Journal journal;

    public ExecutionLookup(ResultStore store, Journal journal) {
        this.store = store;
        this.journal = journal;
    }

    /** What a caller sees of an execution: its status, and its result once it has one. */
    public record Visible(ExecutionStatus status, Optional<ResultDocument> result) {

        static Visible finished(ResultDocument result) {
            return new Visible(result.status(), Optional.of(result));
        }

        static Visible pending(ExecutionStatus status) {
            return new Visible(status, Optional.empty());
        }
    }

    /** The execution as {@code scope} may see it; empty when it does not exist or is another tenant's. */
    public Uni<Optional<Visible>> find(String executionId, KeyScope scope) {
        return store.get(executionId).flatMap(stored -> {
            if (stored.isPresent()) {
                ResultDocument doc = stored.get().document();
                return Uni.createFrom().item(scope.covers(doc.subject())
                        ? Optional.of(Visible.finished(doc))
                        : Optional.empty());
            }
            return journal.load(executionId).map(record -> record
                    .filter(r -> scope.covers(r.entry().subject()))
                    .map(r -> Visible.pending(r.entry().state().pendingStatus())));
        });
    }
}
