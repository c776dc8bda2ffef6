package io.sandstream.it;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.consumer.ConsumerRecord;

import io.sandstream.kafka.KafkaBroker;

/**
 * The real KRaft broker of the multi-instance tests, in a JVM of its own on its own node
 * ({@link KafkaBroker#main}, listening on and advertising the node's address), so the instances
 * reach it over the network only, and a lost node takes nothing of the broker's with it.
 */
final class BrokerProcess implements AutoCloseable {

    private static final Duration READY_TIMEOUT = Duration.ofSeconds(300);

    private final Process process;
    private final String bootstrapServers;

    private BrokerProcess(Process process, String bootstrapServers) {
        this.process = process;
        this.bootstrapServers = bootstrapServers;
    }

    /** Starts the broker on {@code node} (its output into {@code log}) and returns once clients can use it. */
    static BrokerProcess start(NetworkNamespaces.Node node, Path log) throws Exception {
        List<String> command = new ArrayList<>(node.enter());
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-XX:+UseSerialGC", "-Djava.util.logging.manager=org.jboss.logmanager.LogManager",
                "-cp", System.getProperty("java.class.path"), KafkaBroker.class.getName(), node.address()));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline && process.isAlive()) {
            String bootstrap = Files.readAllLines(log).stream().filter(l -> l.startsWith("BOOTSTRAP "))
                    .map(l -> l.substring("BOOTSTRAP ".length()).trim()).findFirst().orElse(null);
            if (bootstrap != null) {
                return new BrokerProcess(process, bootstrap);
            }
            Thread.sleep(100);
        }
        process.destroyForcibly().waitFor();
        throw new IllegalStateException("the Kafka broker did not start on " + node.namespace() + ": "
                + Files.readString(log));
    }

    /** {@code host:port} for {@code bootstrap.servers}: the node's address. */
    String bootstrapServers() {
        return bootstrapServers;
    }

    /** Every record of partition 0 of {@code topic}, read over the network from the test JVM. */
    List<ConsumerRecord<String, byte[]>> records(String topic) {
        return KafkaBroker.records(bootstrapServers, topic);
    }

    /** SIGTERM: its shutdown hook stops the broker and deletes its data. */
    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }
}
