package io.sandstream.results;

import java.time.Duration;
import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;

import io.sandstream.config.SandstreamConfig;
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

    /** The longest an unknown id waits for this instance to read what other instances stored. */
    static final Duration CATCH_UP = Duration.ofSeconds(3);

    private final ResultStore store;
    private final Journal journal;
    /** With a Kafka journal other instances accept and store work too; else everything is here already. */
    private final boolean shared;

    public ExecutionLookup(ResultStore store, Journal journal, SandstreamConfig config) {
        this.store = store;
        this.journal = journal;
        this.shared = config.journal().kind() == SandstreamConfig.JournalKind.KAFKA;
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

    /**
     * The execution as {@code scope} may see it; empty when it does not exist or is another tenant's.
     * An id not known here is looked for again once this instance has read every result and
     * acceptance stored before the call ({@link ResultStore#caughtUp}, at most {@link #CATCH_UP}):
     * with several instances, work accepted by another one a moment ago is then found, so a client
     * that reads right after its {@code 202} never meets a {@code 404} because it reached another
     * instance. With one instance the first answer is final.
     */
    public Uni<Optional<Visible>> find(String executionId, KeyScope scope) {
        return known(executionId, scope).flatMap(found -> found.isPresent() || !shared ? Uni.createFrom().item(found)
                : store.caughtUp().ifNoItem().after(CATCH_UP).recoverWithUni(Uni.createFrom().voidItem())
                        .flatMap(ignored -> known(executionId, scope)));
    }

    private Uni<Optional<Visible>> known(String executionId, KeyScope scope) {
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
