package io.sandstream.journal.kafka;

import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.common.TopicPartition;
import org.jboss.logging.Logger;

import io.sandstream.kafka.SessionOwners;

/**
 * Partitions moving between instances, so an execution never runs on two at once: queued work of
 * partitions that leave is withdrawn, running work is waited for (up to {@code revoke-wait}) and
 * committed before the next owner reads; partitions that arrive stay paused until this instance's
 * copy of the results topic caught up, so work another instance finished is recognised, and the
 * starts their previous owners committed are read, so work they started is counted.
 *
 * <p>Called on the consumer thread, inside {@code poll}.
 */
final class LaneRebalance implements ConsumerRebalanceListener {

    private static final Logger LOG = Logger.getLogger(LaneRebalance.class);

    private final LaneConsumer lanes;
    private final OffsetLedger ledger;
    private final LanePauses pauses;
    private final Supplier<CompletableFuture<Void>> resultsCaughtUp;
    private final Duration revokeWait;
    private final SessionOwners owners;

    LaneRebalance(LaneConsumer lanes, OffsetLedger ledger, LanePauses pauses,
            Supplier<CompletableFuture<Void>> resultsCaughtUp, Duration revokeWait, SessionOwners owners) {
        this.owners = owners;
        this.lanes = lanes;
        this.ledger = ledger;
        this.pauses = pauses;
        this.resultsCaughtUp = resultsCaughtUp;
        this.revokeWait = revokeWait;
    }

    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
        if (partitions.isEmpty()) {
            return;
        }
        owners.revoked(partitions); // session calls stop coming here before running work is waited for
        int withdrawn = ledger.withdraw(partitions);
        long deadline = System.nanoTime() + revokeWait.toNanos();
        // At shutdown the dispatcher has stopped: nothing running will finish, so do not wait.
        int left = ledger.awaitRunning(partitions, deadline, lanes::running);
        if (left > 0 && lanes.running()) {
            LOG.warnf("%d executions still running after %s; their partitions move anyway and may run them again",
                    left, revokeWait);
        }
        try {
            lanes.commit(partitions, true);
        } catch (RuntimeException e) {
            LOG.warnf("committing before a rebalance failed (the next owner re-reads, and skips stored work): %s",
                    e.getMessage());
        }
        forget(partitions);
        LOG.infof("gave up %d partitions (%d queued executions withdrawn)", partitions.size(), withdrawn);
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
        owners.revoked(partitions);
        ledger.withdraw(partitions);
        forget(partitions);
        LOG.warnf("lost %d partitions (this instance was too slow to answer the group)", partitions.size());
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        if (partitions.isEmpty()) {
            return;
        }
        owners.assigned(partitions);
        pauses.awaitCatchUp(partitions);
        lanes.pause(partitions);
        try {
            lanes.committed(partitions).values().forEach(committed -> {
                if (committed != null) {
                    ledger.carry(committed.metadata());
                }
            });
        } catch (RuntimeException e) {
            LOG.warnf("reading the partitions' committed starts failed (%s): earlier starts are not counted",
                    e.getMessage());
        }
        resultsCaughtUp.get().whenComplete((ignored, failure) -> {
            if (failure != null) {
                LOG.warnf("the results copy did not catch up (%s); taking the partitions anyway", failure.getMessage());
            }
            pauses.caughtUp(partitions);
        });
        LOG.infof("took %d partitions", partitions.size());
    }

    private void forget(Collection<TopicPartition> partitions) {
        ledger.forget(partitions);
        pauses.caughtUp(partitions);
    }
}
