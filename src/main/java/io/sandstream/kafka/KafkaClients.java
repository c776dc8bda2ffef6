package io.sandstream.kafka;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jboss.logging.Logger;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.Priority;

/**
 * Client settings shared by the Kafka journal and the results topic: where the brokers are, how
 * to authenticate (plain Kafka or Azure Event Hubs), the topic names, and the topics themselves.
 */
public final class KafkaClients {

    private static final Logger LOG = Logger.getLogger(KafkaClients.class);

    private final SandstreamConfig.Kafka config;
    private final String instanceId;
    private final AcceptedIndex accepted;
    private final SessionOwners owners;
    private volatile int lanePartitions;
    private volatile int allLanePartitions;
    private KafkaProducer<String, byte[]> shared;
    private int sharedUsers;

    public KafkaClients(SandstreamConfig.Kafka config) {
        this(config, null, 0);
    }

    /**
     * @param advertisedUrl where the other instances reach this one (published in the lane client id); null: nowhere
     * @param maxPending the journal's {@code max-pending}, which sizes the {@link AcceptedIndex}
     */
    public KafkaClients(SandstreamConfig.Kafka config, String advertisedUrl, long maxPending) {
        this.config = config;
        this.accepted = new AcceptedIndex(maxPending);
        this.instanceId = config.instanceId().orElseGet(KafkaClients::hostName);
        this.owners = new SessionOwners(this, advertisedUrl);
        this.lanePartitions = config.lanePartitions();
        this.allLanePartitions = config.lanePartitions() * Priority.values().length;
        if (config.bootstrapServers().isEmpty()) {
            throw new IllegalStateException("sandstream.journal.kind=kafka needs sandstream.kafka.bootstrap-servers");
        }
        if (config.sendsInFlight() < 1 || config.sendsInFlight() > 5) {
            throw new IllegalStateException("sandstream.kafka.sends-in-flight must be 1 to 5 (an idempotent producer "
                    + "keeps at most 5 requests in flight): " + config.sendsInFlight());
        }
        if (config.auth() == SandstreamConfig.KafkaAuth.CONNECTION_STRING && config.connectionString().isEmpty()) {
            throw new IllegalStateException("sandstream.kafka.auth=connection-string needs sandstream.kafka.connection-string");
        }
    }

    public String instanceId() {
        return instanceId;
    }

    public SandstreamConfig.Kafka config() {
        return config;
    }

    /** Shared by the journal (which reads it) and the results reader (which fills it). */
    public AcceptedIndex accepted() {
        return accepted;
    }

    /** Which instance owns each session; fed by the lane consumer's rebalances. */
    public SessionOwners owners() {
        return owners;
    }

    /** Partitions of the normal lane as found at start ({@code lane-partitions} when this instance created it). */
    public int lanePartitions() {
        return lanePartitions;
    }

    /** Partitions of all lane topics together, as found at start. */
    public int allLanePartitions() {
        return allLanePartitions;
    }

    /** The compacted directory of sessions opened through the pool API ({@link SessionDirectory}). */
    public String sessionsTopic() {
        return config.topicPrefix() + "sessions";
    }

    public String laneTopic(Priority lane) {
        return config.topicPrefix() + lane.wireName();
    }

    public String resultsTopic() {
        return config.topicPrefix() + "results";
    }

    /** Where events given up after {@code max-attempts} starts go. */
    public String deadLetterTopic() {
        return config.deadLetterTopic().orElse(config.topicPrefix() + "dead-letter");
    }

    /** Status changes and output chunks of running executions, for the streams of every instance. */
    public String liveTopic() {
        return config.topicPrefix() + "live";
    }

    /**
     * Acknowledged only once every in-sync replica has the record, and retried without duplicates
     * or reordering: a 202 then means the event is in Kafka.
     */
    public KafkaProducer<String, byte[]> producer(String role) {
        return new KafkaProducer<>(producerProperties(role));
    }

    /**
     * This instance's one acknowledged producer, shared by the journal, the results store and the
     * session directory: one connection and one sender thread, and with one request in flight
     * (sends-in-flight) whatever they send while it waits goes out together in the next request, an
     * event's lane record, its accepted marker and other executions' results alike. Each user gives it
     * back with {@link #release}; the last one closes it.
     */
    public synchronized KafkaProducer<String, byte[]> sharedProducer() {
        if (shared == null) {
            shared = producer("acknowledged");
        }
        sharedUsers++;
        return shared;
    }

    /** Gives back what {@link #sharedProducer} lent; the last user closes it, waiting up to {@code timeout} for its sends. */
    public void release(KafkaProducer<String, byte[]> producer, Duration timeout) {
        synchronized (this) {
            if (producer != shared || --sharedUsers > 0) {
                return;
            }
            shared = null;
        }
        producer.close(timeout);
    }

    /** What {@link #producer} is made with; the linger is {@code linger} (none by default: see there). */
    Map<String, Object> producerProperties(String role) {
        Map<String, Object> props = common(role);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, config.sendsInFlight());
        props.put(ProducerConfig.LINGER_MS_CONFIG, (int) config.linger().toMillis());
        int send = (int) Math.max(config.sendTimeout().toMillis(), 2_000);
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, send);
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Math.min(send - 1_000, 30_000));
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, send);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.putAll(config.properties());
        return props;
    }

    /**
     * The lanes' consumer: offsets committed by hand after results are stored; the range assignor
     * gives one instance the same partition number of every lane topic, so a session's events
     * (keyed by session) reach one instance whatever their lane.
     */
    public KafkaConsumer<String, byte[]> laneConsumer(int maxRecords) {
        return new KafkaConsumer<>(laneConsumerProperties(maxRecords));
    }

    Map<String, Object> laneConsumerProperties(int maxRecords) {
        Map<String, Object> props = common("lanes");
        props.put(CommonClientConfigs.CLIENT_ID_CONFIG, props.get(CommonClientConfigs.CLIENT_ID_CONFIG) + owners.clientIdSuffix());
        props.put(ConsumerConfig.GROUP_ID_CONFIG, config.groupId());
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, RangeAssignor.class.getName());
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, maxRecords);
        props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, (int) config.fetchWait().toMillis());
        // A rebalance waits up to revoke-wait for this instance's running executions, inside poll().
        props.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, (int) config.revokeWait().plusSeconds(60).toMillis());
        props.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, (int) config.sessionTimeout().toMillis());
        props.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, (int) config.sessionTimeout().toMillis() / 3);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.putAll(config.properties());
        return props;
    }

    /**
     * The live topic's writer: a lost chunk costs a line on a stream on another instance, never a
     * result, so one acknowledgement is enough, and a few milliseconds of lingering batch the chunks.
     */
    public KafkaProducer<String, byte[]> liveProducer() {
        Map<String, Object> props = common("live");
        props.put(ProducerConfig.ACKS_CONFIG, "1");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, false);
        props.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        props.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1); // a retry never reorders an execution's chunks
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) Math.max(config.sendTimeout().toMillis(), 2_000));
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) Math.max(config.sendTimeout().toMillis() - 1_000, 1_000));
        // Never block the thread that runs an execution: a full buffer fails the send at once.
        props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 0);
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        props.putAll(config.properties());
        return new KafkaProducer<>(props);
    }

    /** The results topic's reader: no group, every instance reads all of it. */
    public KafkaConsumer<String, byte[]> resultsConsumer() {
        return readAll("results");
    }

    /** The live topic's reader: no group, every instance reads all of it. */
    public KafkaConsumer<String, byte[]> liveConsumer() {
        return readAll("live-reader");
    }

    /** A reader of a whole topic without a group (the results copy, the session directory, live output). */
    public KafkaConsumer<String, byte[]> readAll(String role) {
        Map<String, Object> props = common(role);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 512);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        props.putAll(config.properties());
        return new KafkaConsumer<>(props);
    }

    public Admin admin() {
        Map<String, Object> props = common("admin");
        props.putAll(config.properties());
        return Admin.create(props);
    }

    /** What every client gets: the brokers, its id, and the authentication. */
    Map<String, Object> common(String role) {
        Map<String, Object> props = connection(config);
        props.put(CommonClientConfigs.CLIENT_ID_CONFIG, "sandstream-" + instanceId + "-" + role);
        return props;
    }

    /**
     * The brokers (when configured) and the authentication of {@code sandstream.kafka.*}: also what
     * a Kafka sink connects with, unless its own properties say otherwise.
     */
    public static Map<String, Object> connection(SandstreamConfig.Kafka config) {
        Map<String, Object> props = new HashMap<>();
        config.bootstrapServers().ifPresent(servers -> props.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, servers));
        switch (config.auth()) {
            case ENTRA -> {
                props.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "SASL_SSL");
                props.put(SaslConfigs.SASL_MECHANISM, "OAUTHBEARER");
                props.put(SaslConfigs.SASL_JAAS_CONFIG,
                        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;");
                props.put(SaslConfigs.SASL_LOGIN_CALLBACK_HANDLER_CLASS, EventHubsTokens.class.getName());
            }
            case CONNECTION_STRING -> {
                props.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "SASL_SSL");
                props.put(SaslConfigs.SASL_MECHANISM, "PLAIN");
                props.put(SaslConfigs.SASL_JAAS_CONFIG, "org.apache.kafka.common.security.plain.PlainLoginModule required "
                        + "username=\"$ConnectionString\" password=\"" + config.connectionString().orElseThrow()
                                .replace("\\", "\\\\").replace("\"", "\\\"") + "\";");
            }
            case NONE -> {
                // PLAINTEXT, unless sandstream.kafka.properties says otherwise
            }
        }
        return props;
    }

    /**
     * Creates missing topics: the lanes with {@code lane-partitions} each, the results topic with
     * one partition (its offsets number the results stream, so one order for every instance), the
     * compacted session directory with one, the dead-letter topic with one (it takes few events,
     * read by operators in order). An
     * existing results topic with more partitions stops the start.
     */
    public void ensureTopics() {
        try (Admin admin = admin()) {
            List<NewTopic> wanted = new ArrayList<>();
            for (Priority lane : Priority.values()) {
                wanted.add(new NewTopic(laneTopic(lane), java.util.Optional.of(config.lanePartitions()), replication()));
            }
            wanted.add(new NewTopic(resultsTopic(), java.util.Optional.of(1), replication()));
            wanted.add(new NewTopic(sessionsTopic(), java.util.Optional.of(1), replication())
                    .configs(Map.of("cleanup.policy", "compact,delete", "retention.ms", Long.toString(SessionDirectory.RETENTION.toMillis()))));
            wanted.add(new NewTopic(deadLetterTopic(), java.util.Optional.of(1), replication()));
            if (config.live().enabled()) {
                wanted.add(new NewTopic(liveTopic(), java.util.Optional.of(config.live().partitions()), replication())
                        .configs(Map.of("cleanup.policy", "delete",
                                "retention.ms", Long.toString(config.live().retention().toMillis()))));
            }
            if (config.createTopics()) {
                for (NewTopic topic : wanted) {
                    try {
                        admin.createTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
                        LOG.infof("created topic %s (%d partitions)", topic.name(), topic.numPartitions());
                    } catch (ExecutionException e) {
                        if (!(e.getCause() instanceof TopicExistsException)) {
                            throw e;
                        }
                    }
                }
            }
            Map<String, TopicDescription> found = describe(admin, wanted.stream().map(NewTopic::name).toList());
            int results = found.get(resultsTopic()).partitions().size();
            if (results != 1) {
                throw new IllegalStateException("topic " + resultsTopic() + " has " + results
                        + " partitions; it must have exactly one (its offsets number the results stream)");
            }
            Set<Integer> laneCounts = new java.util.HashSet<>();
            for (Priority lane : Priority.values()) {
                laneCounts.add(found.get(laneTopic(lane)).partitions().size());
            }
            lanePartitions = found.get(laneTopic(Priority.NORMAL)).partitions().size();
            allLanePartitions = java.util.Arrays.stream(Priority.values())
                    .mapToInt(lane -> found.get(laneTopic(lane)).partitions().size()).sum();
            if (laneCounts.size() > 1) {
                LOG.warnf("the lane topics have different partition counts %s: a session's events of different lanes "
                        + "may then reach different instances", laneCounts);
            }
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot reach or prepare the Kafka topics at "
                    + config.bootstrapServers().orElseThrow() + " (" + String.join(", ", laneTopic(Priority.HIGH),
                            laneTopic(Priority.NORMAL), laneTopic(Priority.LOW), resultsTopic(), sessionsTopic())
                    + "; with create-topics=false each must exist): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while preparing the Kafka topics", e);
        }
    }

    /** Topics just created may take a moment to be known to every broker. */
    private static Map<String, TopicDescription> describe(Admin admin, List<String> names)
            throws ExecutionException, TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                return admin.describeTopics(names).allTopicNames().get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    private java.util.Optional<Short> replication() {
        return config.replicationFactor() > 0 ? java.util.Optional.of(config.replicationFactor()) : java.util.Optional.empty();
    }

    /**
     * Ends a thread that polls {@code consumer}: wakes it out of its poll, then waits up to
     * {@code patience} for it to finish (it closes its consumer on the way out). Either may be null
     * when it never started.
     */
    public static void stopReader(KafkaConsumer<?, ?> consumer, Thread reader, Duration patience) {
        if (consumer != null) {
            consumer.wakeup();
        }
        if (reader != null) {
            try {
                reader.join(patience.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public static Duration pollTimeout() {
        return Duration.ofMillis(50);
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "sandstream";
        }
    }
}
