package io.sandstream.kafka;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.utils.Exit;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.MetadataVersion;
import org.jboss.logging.Logger;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;

/**
 * A real single-node Apache Kafka (KRaft, broker and controller in one) run inside the test JVM, on
 * loopback ports and a temporary directory of its own. Nothing is shared between two instances.
 * {@link #main} runs one in a JVM of its own, listening on a given address.
 */
public final class KafkaBroker implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(KafkaBroker.class);
    private static final int NODE_ID = 1;
    private static final String LOOPBACK = "127.0.0.1";
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);
    private static final int START_ATTEMPTS = 3;

    /** Held here because JUL keeps loggers only weakly, and a collected logger forgets its level. */
    private static final List<java.util.logging.Logger> QUIETED = Stream.of(
            "kafka", "state.change.logger", "org.apache.kafka.server", "org.apache.kafka.controller",
            "org.apache.kafka.raft", "org.apache.kafka.metadata", "org.apache.kafka.image",
            "org.apache.kafka.storage", "org.apache.kafka.coordinator", "org.apache.kafka.queue",
            "org.apache.kafka.snapshot", "org.apache.kafka.network", "org.apache.kafka.security")
            .map(java.util.logging.Logger::getLogger)
            .toList();
    private static final java.util.logging.Logger CONFIG_DUMPS =
            java.util.logging.Logger.getLogger("org.apache.kafka.common.config.AbstractConfig");

    static {
        // The broker logs some 500 INFO lines per start and stop (state transitions, reapers, raft), which
        // bury the test's own output; its warnings and errors still show. The client packages
        // (org.apache.kafka.clients, .common) keep their levels: the service under test logs through them.
        QUIETED.forEach(logger -> logger.setLevel(Level.WARNING));
        // The broker also dumps its 330-line configuration three times per start, through the logger
        // that dumps the clients' configurations too; only the broker's are dropped.
        CONFIG_DUMPS.setFilter(record -> record.getMessage() == null || !record.getMessage().startsWith("KafkaConfig values"));
        // A fatal fault in KRaft ends in Exit.halt, which would kill the surefire fork without a word
        // about which test or why; an exception is logged by the broker's thread instead, and the test
        // fails on its own timeouts with that log above it.
        Exit.Procedure refuse = (status, message) -> {
            throw new IllegalStateException("the in-process Kafka broker asked to end the JVM (status " + status + "): " + message);
        };
        Exit.setHaltProcedure(refuse);
        Exit.setExitProcedure(refuse);
    }

    private final Path dir;
    private final KafkaRaftServer server;
    private final String bootstrapServers;
    private final Admin admin;

    private KafkaBroker(Path dir, KafkaRaftServer server, String bootstrapServers, Admin admin) {
        this.dir = dir;
        this.server = server;
        this.bootstrapServers = bootstrapServers;
        this.admin = admin;
    }

    /**
     * Runs a broker in a JVM of its own (for src/bench/scaleout-bench.sh, and the multi-instance ITs,
     * which run it in a network namespace of its own): prints one line {@code BOOTSTRAP host:port}
     * once clients can use it, and runs until the process is ended. Its clients' listener is on
     * {@code args[0]} when given (that address, advertised), else on 127.0.0.1.
     */
    public static void main(String[] args) throws InterruptedException {
        KafkaBroker broker = start(args.length > 0 ? args[0] : LOOPBACK);
        Runtime.getRuntime().addShutdownHook(new Thread(broker::close, "kafka-broker-shutdown"));
        System.out.println("BOOTSTRAP " + broker.bootstrapServers());
        System.out.flush();
        Thread.currentThread().join();
    }

    /** Formats a fresh temporary directory, starts the broker and returns once clients can use it. */
    public static KafkaBroker start() {
        return start(LOOPBACK);
    }

    private static KafkaBroker start(String host) {
        for (int attempt = 1;; attempt++) {
            try {
                return startOnce(host);
            } catch (RuntimeException e) {
                // The free ports are only free when chosen; another process may take one before Kafka binds.
                if (attempt == START_ATTEMPTS || !causedByBind(e)) {
                    throw e;
                }
                LOG.warnf("Kafka broker could not bind its ports, retrying: %s", e.getMessage());
            }
        }
    }

    private static KafkaBroker startOnce(String host) {
        long started = System.nanoTime();
        Path dir = createTempDir();
        KafkaRaftServer server = null;
        Admin admin = null;
        try {
            int[] ports = freePorts(2);
            String bootstrapServers = host + ":" + ports[0];
            Path logDir = dir.resolve("log");
            KafkaConfig config = new KafkaConfig(brokerProperties(host, ports[0], ports[1], logDir), false);
            format(config, logDir);
            server = new KafkaRaftServer(config, Time.SYSTEM);
            server.startup();
            admin = Admin.create(Map.of(
                    AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                    AdminClientConfig.CLIENT_ID_CONFIG, "kafka-broker-test-helper"));
            awaitReady(admin);
            LOG.infof("Kafka broker ready at %s in %d ms", bootstrapServers,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            return new KafkaBroker(dir, server, bootstrapServers, admin);
        } catch (RuntimeException | Error e) {
            stop(server, admin, dir, e);
            throw e;
        }
    }

    /** The clients' listener on {@code host}; the controller's, which only the broker itself uses, on loopback. */
    private static Properties brokerProperties(String host, int brokerPort, int controllerPort, Path logDir) {
        Properties props = new Properties();
        props.put("process.roles", "broker,controller");
        props.put("node.id", Integer.toString(NODE_ID));
        props.put("controller.quorum.voters", NODE_ID + "@127.0.0.1:" + controllerPort);
        props.put("listeners", "PLAINTEXT://" + host + ":" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        props.put("advertised.listeners", "PLAINTEXT://" + host + ":" + brokerPort);
        props.put("controller.listener.names", "CONTROLLER");
        props.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        props.put("inter.broker.listener.name", "PLAINTEXT");
        props.put("log.dirs", logDir.toString());
        props.put("num.partitions", "1");
        props.put("auto.create.topics.enable", "false");
        // One node: every internal topic has to make do with one replica.
        props.put("offsets.topic.replication.factor", "1");
        props.put("transaction.state.log.replication.factor", "1");
        props.put("transaction.state.log.min.isr", "1");
        props.put("share.coordinator.state.topic.replication.factor", "1");
        props.put("share.coordinator.state.topic.min.isr", "1");
        // The 50-partition defaults make the first consumer group (and transaction) wait for 50 logs.
        props.put("offsets.topic.num.partitions", "1");
        props.put("transaction.state.log.num.partitions", "1");
        props.put("group.initial.rebalance.delay.ms", "0");
        // The log cleaner otherwise takes a 128 MiB heap buffer from the test JVM at startup.
        props.put("log.cleaner.dedupe.buffer.size", Integer.toString(2 * 1024 * 1024));
        // Sized for a test on a small machine, not for throughput.
        props.put("num.network.threads", "2");
        props.put("num.io.threads", "2");
        props.put("background.threads", "2");
        return props;
    }

    /** What {@code kafka-storage.sh format} does: a cluster id and the bootstrap metadata in the log dir. */
    private static void format(KafkaConfig config, Path logDir) {
        try {
            new Formatter()
                    .setClusterId(Uuid.randomUuid().toString())
                    .setNodeId(NODE_ID)
                    .setControllerListenerName("CONTROLLER")
                    .setDirectories(List.of(logDir.toString()))
                    .setMetadataLogDirectory(config.metadataLogDir())
                    .setReleaseVersion(MetadataVersion.LATEST_PRODUCTION)
                    .setPrintStream(new PrintStream(OutputStream.nullOutputStream())) // "Formatting ..." on stdout
                    .run();
        } catch (Exception e) {
            throw new IllegalStateException("could not format the Kafka log directory " + logDir, e);
        }
    }

    /**
     * {@code startup()} returns before the broker is unfenced; a cluster description only lists
     * unfenced brokers, so once it names this node topics can be created with one replica.
     */
    private static void awaitReady(Admin admin) {
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        Exception last = null;
        while (System.nanoTime() < deadline) {
            try {
                var nodes = admin.describeCluster().nodes().get(5, TimeUnit.SECONDS);
                if (nodes.stream().map(Node::id).anyMatch(id -> id == NODE_ID)) {
                    return;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for the Kafka broker", e);
            } catch (Exception e) {
                last = e;
            }
            sleep(50);
        }
        throw new IllegalStateException("the Kafka broker was not ready within " + READY_TIMEOUT, last);
    }

    /** {@code host:port} for {@code bootstrap.servers}. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** Every record of partition 0 of {@code topic}, from its start to its end as of now. */
    public List<ConsumerRecord<String, byte[]>> records(String topic) {
        return records(bootstrapServers, topic);
    }

    /** The same, of a broker elsewhere (one {@link #main} runs). */
    public static List<ConsumerRecord<String, byte[]>> records(String bootstrapServers, String topic) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        List<ConsumerRecord<String, byte[]>> records = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(props)) {
            TopicPartition partition = new TopicPartition(topic, 0);
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            while (consumer.position(partition) < end) {
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
        }
        return records;
    }

    /** Creates a topic (one replica) and returns once the broker has it. */
    public void createTopic(String name, int partitions) {
        try {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1)))
                    .all().get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted creating topic " + name, e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("could not create topic " + name, e.getCause());
        } catch (Exception e) {
            throw new IllegalStateException("could not create topic " + name, e);
        }
    }

    /** Stops the broker, waits for it and deletes its data. */
    @Override
    public void close() {
        stop(server, admin, dir, null);
    }

    private static void stop(KafkaRaftServer server, Admin admin, Path dir, Throwable failure) {
        try {
            if (admin != null) {
                admin.close(Duration.ofSeconds(5));
            }
        } catch (RuntimeException e) {
            LOG.debugf("closing the Kafka admin client: %s", e);
        }
        try {
            if (server != null) {
                server.shutdown();
                server.awaitShutdown();
            }
        } catch (RuntimeException e) {
            if (failure == null) {
                throw e;
            }
            failure.addSuppressed(e);
        } finally {
            deleteRecursively(dir);
        }
    }

    private static boolean causedByBind(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof BindException) {
                return true;
            }
        }
        return false;
    }

    private static int[] freePorts(int count) {
        // All held open together, so that the ports differ.
        ServerSocket[] sockets = new ServerSocket[count];
        try {
            int[] ports = new int[count];
            for (int i = 0; i < count; i++) {
                sockets[i] = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                ports[i] = sockets[i].getLocalPort();
            }
            return ports;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            for (ServerSocket socket : sockets) {
                if (socket != null) {
                    try {
                        socket.close();
                    } catch (IOException ignored) {
                        // only a probe
                    }
                }
            }
        }
    }

    private static Path createTempDir() {
        try {
            return Files.createTempDirectory("sandstream-kafka-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    LOG.debugf("could not delete %s: %s", path, e);
                }
            });
        } catch (IOException e) {
            LOG.debugf("could not delete %s: %s", dir, e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for the Kafka broker", e);
        }
    }
}
