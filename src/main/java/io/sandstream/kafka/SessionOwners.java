package io.sandstream.kafka;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Utils;

import io.sandstream.model.Priority;
import io.sandstream.model.Tenant;

/**
 * Which instance owns a session: the one the lane consumer group assigned the session's partition
 * to. A session's events are keyed by session ({@link LaneRecords#sessionKey}), so they all run on
 * the owner of that partition number (the range assignor gives one instance the same number of
 * every lane); pool API calls go to the same instance, so both reach one sandbox. The group
 * coordinator is the one authority on assignments, so this stays right across rebalances: a call
 * during one waits until the partition has an owner again.
 * <p>
 * This instance's own partitions come from its rebalance listener (no broker call); another
 * owner's address from the group's description, where each member's lane client id ends with its
 * advertised URL ({@link #clientIdSuffix}). Descriptions are kept for a second.
 */
public final class SessionOwners implements AutoCloseable {

    private static final String URL_MARK = "@";
    private static final long CACHE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final KafkaClients clients;
    private final String advertisedUrl;
    /** The lane partitions this instance holds, and their numbers (derived from them). */
    private volatile Set<TopicPartition> ownedLanes = Set.of();
    private volatile Set<Integer> owned = Set.of();
    private volatile Map<Integer, String> others = Map.of();
    private volatile Set<String> peers = Set.of();
    private volatile long describedAt;
    private Admin admin;

    /** The session has no owner that could be found in time (a rebalance that does not end, the brokers away). */
    public static final class OwnerUnavailable extends Exception {
        OwnerUnavailable(String message) {
            super(message, null, false, false);
        }
    }

    SessionOwners(KafkaClients clients, String advertisedUrl) {
        this.clients = clients;
        this.advertisedUrl = advertisedUrl;
    }

    public String advertisedUrl() {
        return advertisedUrl;
    }

    /** What the lane consumer's client id ends with: how the others find this instance's URL. */
    String clientIdSuffix() {
        return advertisedUrl == null ? "" : URL_MARK + advertisedUrl;
    }

    /** The partition number of a session's records (Kafka's default partitioner of keyed records). */
    public int partition(String identifier, Tenant tenant) {
        byte[] key = LaneRecords.bytes(LaneRecords.sessionKey(identifier, tenant));
        return Utils.toPositive(Utils.murmur2(key)) % clients.lanePartitions();
    }

    /** From the lane consumer's rebalance listener: partitions of any lane, by number. */
    public void assigned(Collection<TopicPartition> partitions) {
        Set<TopicPartition> lanes = new HashSet<>(ownedLanes);
        lanes.addAll(partitions);
        own(lanes);
    }

    /** Before a rebalance gives partitions away (or they were lost): they are not this instance's any more. */
    public void revoked(Collection<TopicPartition> partitions) {
        Set<TopicPartition> lanes = new HashSet<>(ownedLanes);
        lanes.removeAll(partitions);
        own(lanes);
    }

    private void own(Set<TopicPartition> lanes) {
        ownedLanes = Set.copyOf(lanes);
        owned = lanes.stream().map(TopicPartition::partition).collect(java.util.stream.Collectors.toUnmodifiableSet());
        describedAt = 0;
    }

    public boolean owns(int partition) {
        return owned.contains(partition);
    }

    /**
     * True while this instance holds every lane partition: no other instance takes work from the
     * group now (the range assignor gives each member its share), so none streams what runs here
     * either. False before the first assignment and during a rebalance.
     */
    public boolean alone() {
        return ownedLanes.size() >= clients.allLanePartitions();
    }

    /**
     * The URL of the instance that owns {@code partition}, or empty when it is this one; waits up
     * to {@code wait} while the partition has no owner. Blocking (a call to the group coordinator).
     */
    public Optional<String> owner(int partition, Duration wait) throws OwnerUnavailable, InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            if (owns(partition)) {
                return Optional.empty();
            }
            String url = System.nanoTime() - describedAt < CACHE_NANOS ? others.get(partition) : null;
            if (url == null) {
                url = describe().get(partition);
            }
            if (url != null) {
                return Optional.of(url);
            }
            if (System.nanoTime() > deadline) {
                throw new OwnerUnavailable("no instance holds this session's partition " + partition
                        + " (the instances are rebalancing, or none is running)");
            }
            Thread.sleep(100);
        }
    }

    /**
     * The URLs of the group's other instances, whether or not they hold partitions now; waits up to
     * {@code wait} for a rebalance to end. Blocking (a call to the group coordinator).
     */
    public Set<String> peers(Duration wait) throws OwnerUnavailable, InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (System.nanoTime() - describedAt >= CACHE_NANOS) {
            describe();
            if (describedAt == 0) {
                if (System.nanoTime() > deadline) {
                    throw new OwnerUnavailable("the instances are rebalancing");
                }
                Thread.sleep(100);
            }
        }
        return peers;
    }

    /** Forgets what the group looked like: the owner it named did not answer. */
    public void stale() {
        describedAt = 0;
    }

    /** Every other stable member's partitions of the normal lane, with its URL (and every other member's URL). */
    private synchronized Map<Integer, String> describe() throws OwnerUnavailable {
        if (System.nanoTime() - describedAt < CACHE_NANOS) {
            return others;
        }
        String group = clients.config().groupId();
        ConsumerGroupDescription description;
        try {
            description = admin().describeConsumerGroups(List.of(group)).describedGroups().get(group).get(10, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new OwnerUnavailable("the lane consumer group could not be described: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OwnerUnavailable("interrupted");
        }
        Map<Integer, String> found = new HashMap<>();
        Set<String> urls = new HashSet<>();
        if (description.groupState() == GroupState.STABLE) {
            String lane = clients.laneTopic(Priority.NORMAL);
            for (MemberDescription member : description.members()) {
                int mark = member.clientId().indexOf(URL_MARK);
                if (mark < 0 || member.clientId().endsWith(clientIdSuffix())) {
                    continue; // not a sandstream instance that publishes its URL, or this one
                }
                String url = member.clientId().substring(mark + URL_MARK.length());
                urls.add(url);
                member.assignment().topicPartitions().stream().filter(p -> p.topic().equals(lane))
                        .forEach(p -> found.put(p.partition(), url));
            }
        }
        others = Map.copyOf(found);
        peers = Set.copyOf(urls);
        describedAt = description.groupState() == GroupState.STABLE ? System.nanoTime() : 0;
        return others;
    }

    private Admin admin() {
        if (admin == null) {
            admin = clients.admin();
        }
        return admin;
    }

    @Override
    public synchronized void close() {
        if (admin != null) {
            admin.close(Duration.ofSeconds(2));
        }
    }
}
