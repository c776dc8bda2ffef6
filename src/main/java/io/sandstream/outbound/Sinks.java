package io.sandstream.outbound;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;

import org.eclipse.microprofile.reactive.messaging.spi.Connector;
import org.jboss.logging.Logger;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.Startup;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.results.ResultBus;
import io.sandstream.results.ResultStore;
import io.sandstream.results.StoredResult;
import io.sandstream.telemetry.ExecutionTracing;
import io.smallrye.mutiny.infrastructure.Infrastructure;
import io.smallrye.mutiny.subscription.Cancellable;
import io.smallrye.reactive.messaging.kafka.KafkaConnector;
import io.vertx.mutiny.core.Vertx;

/**
 * Hands every published result to the configured sinks ({@code sandstream.sinks.<name>.*}): HTTP
 * receivers and Event Grid topics ({@link SinkChannel}), Kafka topics and Event Hubs
 * ({@link KafkaSinkChannel}). It subscribes to the result bus and only enqueues per sink, so a slow
 * or dead receiver puts no backpressure on the bus and never delays the dispatcher that publishes.
 */
@Startup
@ApplicationScoped
public class Sinks {

    private static final Logger LOG = Logger.getLogger(Sinks.class);

    private final ResultBus bus;
    private final List<Outlet> channels = new ArrayList<>();
    private Cancellable subscription;

    public Sinks(SandstreamConfig config, ResultBus bus, ResultEvents events, ResultStore store, Vertx vertx,
            MeterRegistry registry, ExecutionTracing tracing,
            @Connector(KafkaConnector.CONNECTOR_NAME) Instance<KafkaConnector> kafka) {
        this.bus = bus;
        for (Map.Entry<String, SandstreamConfig.Sink> entry : config.sinks().entrySet()) {
            SandstreamConfig.Sink sink = check(entry.getKey(), entry.getValue(), config.kafka());
            channels.add(sink.kind() == SandstreamConfig.Sink.Kind.KAFKA
                    ? new KafkaSinkChannel(entry.getKey(), sink, config.kafka(), events, store, kafka.get(),
                            Infrastructure.getDefaultWorkerPool(), registry)
                    : new SinkChannel(entry.getKey(), sink, events, store, new SinkClient(vertx, events, sink),
                            Infrastructure.getDefaultWorkerPool(), registry, tracing));
        }
    }

    /** Refuses to start on a sink that could never deliver, rather than dropping everything it gets. */
    private static SandstreamConfig.Sink check(String name, SandstreamConfig.Sink sink, SandstreamConfig.Kafka kafka) {
        String prefix = "sandstream.sinks." + name + ".";
        if (sink.queueCapacity() < 1 || sink.inFlight() < 1) {
            throw new IllegalStateException(prefix + "queue-capacity and concurrency must be at least 1");
        }
        if (sink.kind() == SandstreamConfig.Sink.Kind.KAFKA) {
            if (sink.topic().filter(t -> !t.isBlank()).isEmpty()) {
                throw new IllegalStateException(prefix + "topic is required for kind=kafka");
            }
            if (kafka.bootstrapServers().isEmpty() && !sink.properties().containsKey("bootstrap.servers")) {
                throw new IllegalStateException(prefix + "kind=kafka needs brokers: sandstream.kafka.bootstrap-servers or "
                        + prefix + "properties.\"bootstrap.servers\"");
            }
            if (kafka.auth() == SandstreamConfig.KafkaAuth.CONNECTION_STRING && kafka.connectionString().isEmpty()) {
                throw new IllegalStateException("sandstream.kafka.auth=connection-string needs sandstream.kafka.connection-string");
            }
            return sink;
        }
        try {
            SinkClient.target(sink);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(prefix + "url " + e.getMessage());
        }
        if (sink.kind() == SandstreamConfig.Sink.Kind.EVENTGRID && sink.key().filter(k -> !k.isBlank()).isEmpty()) {
            throw new IllegalStateException(prefix + "key is required for kind=eventgrid (the topic's access key)");
        }
        if (sink.maxAttempts() < 1) {
            throw new IllegalStateException(prefix + "max-attempts must be at least 1");
        }
        return sink;
    }

    @PostConstruct
    void start() {
        if (channels.isEmpty()) {
            return;
        }
        subscription = bus.executedHere().subscribe().with(this::publish);
        LOG.infof("delivering results to %d sink(s)", channels.size());
    }

    /**
     * Runs on the publisher's thread: filter and enqueue only. Nothing may escape, since a
     * subscriber that throws is cancelled and would never see another result.
     */
    private void publish(StoredResult result) {
        for (Outlet channel : channels) {
            try {
                if (channel.wants(result.document())) {
                    channel.offer(result.document());
                }
            } catch (RuntimeException e) {
                LOG.errorf("sink %s could not take result %s: %s", channel.name(), result.document().executionId(),
                        e.toString());
            }
        }
    }

    @PreDestroy
    void stop() {
        if (subscription != null) {
            subscription.cancel();
        }
        // In-flight attempts end at their next try or with the closed connection; nothing waits for receivers.
        channels.forEach(channel -> channel.stop().subscribe().with(ignored -> { }, failure -> { }));
    }
}
