package io.sandstream.sessions;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

import io.sandstream.model.Language;
import io.sandstream.tenancy.QuotaExceededException;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;

/**
 * A pool of stateful code-execution sessions keyed by identifier, like an Azure Container Apps
 * dynamic sessions pool. The local implementation keeps bubblewrap sandboxes warm; the ACA one
 * ({@code sessions.aca}) calls the dynamic sessions REST API. Routing, the dispatcher and the
 * served pool API see only this interface, so either kind can take any pool name.
 */
public interface SessionPool {

    String name();

    /** When this service created the pool (at its start): the pool API's metadata reports it. */
    Instant createdAt();

    /** What the pool's sessions run. */
    Language language();

    /** Most executions the pool takes at once; the dispatcher starts no more than this. */
    int maxSessions();

    /** What runs the code, as the result document's {@code backend}: {@code local} or {@code aca}. */
    String backend();

    /**
     * Runs code in the named session (created from a warm sandbox when new; a fresh session
     * discarded afterwards when empty). Emits live output chunks, then exactly one
     * {@link ExecutionUpdate.Completed}. Fails with {@link PoolFullException} when no session can
     * be created, with {@link QuotaExceededException} when the tenant may create no more; executions
     * of one session run one after another.
     */
    Multi<ExecutionUpdate> execute(Optional<SessionKey> session, ExecutionSpec spec);

    /** {@link #execute} for callers that want only the final result, not the live output. */
    default Uni<ExecutionResult> run(Optional<SessionKey> session, ExecutionSpec spec) {
        return execute(session, spec).select().where(ExecutionUpdate.Completed.class::isInstance).toUni()
                .map(done -> ((ExecutionUpdate.Completed) done).result());
    }

    Uni<SessionFile> uploadFile(SessionKey session, String name, byte[] content);

    /** The file's bytes; fails with {@link SessionFileException} when it is missing or refused. */
    Uni<byte[]> downloadFile(SessionKey session, String name);

    /** The session's regular files by name, at most the pool's listing cap of them. */
    Uni<SessionFiles> listFiles(SessionKey session);

    Uni<Void> deleteFile(SessionKey session, String name);

    /** Ends the session now, destroying its sandbox. False when there was no such session. */
    Uni<Boolean> deleteSession(SessionKey session);

    /** Every tenant's sessions; callers show a tenant its own only. */
    List<SessionInfo> sessions();

    /** Whether the pool holds this session now (it is among {@link #sessions()}). */
    default boolean holds(SessionKey session) {
        return sessions().stream().anyMatch(s -> s.key().equals(session));
    }

    PoolStats stats();
}
