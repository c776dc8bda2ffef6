package io.sandstream.outbound;

import java.net.URI;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;

import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.reactive.messaging.Message;
import org.eclipse.microprofile.reactive.messaging.Metadata;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.cloudevents.CloudEvent;
import io.micrometer.core.instrument.MeterRegistry;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.SandstreamConfig.Sink;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.model.ResultDocument;
import io.sandstream.results.ResultStore;
import io.sandstream.telemetry.TraceContext;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfigBuilder;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.subscription.MultiEmitter;
import io.smallrye.reactive.messaging.ce.OutgoingCloudEventMetadata;
import io.smallrye.reactive.messaging.ce.OutgoingCloudEventMetadataBuilder;
import io.smallrye.reactive.messaging.kafka.KafkaConnector;
import io.smallrye.reactive.messaging.kafka.api.OutgoingKafkaRecordMetadata;

/**
 * One {@code kind=kafka} sink: each result as a CloudEvent record on a Kafka topic (or an Azure
 * Event Hub), written by SmallRye Reactive Messaging's Kafka connector with its CloudEvents support
 * (binary or structured mode) on an outgoing channel of its own, {@code sink-<name>}. The
 * connector asks for records as the brokers acknowledge earlier ones (at most {@code concurrency}
 * unacknowledged); until it asks, results wait in the sink's bounded queue, which drops its oldest
 * when full, exactly like an HTTP sink's. So a slow or unreachable cluster never delays an
 * execution. Records are keyed by session (by execution without one), so one session's results
 * stay in order on one partition.
 */
final class KafkaSinkChannel implements Outlet {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String name;
    private final Sink config;
    private final ResultEvents events;
    private final ResultStore store;
    private final Executor executor;
    private final SinkQueue queue;
    private final SinkMeters meters;
    /** Set once the connector subscribed; its {@code requested()} is the channel's demand. */
    private volatile MultiEmitter<? super SinkQueue.Pending> emitter;

    KafkaSinkChannel(String name, Sink config, SandstreamConfig.Kafka kafka, ResultEvents events, ResultStore store,
            KafkaConnector connector, Executor executor, MeterRegistry registry) {
        this.name = name;
        this.config = config;
        this.events = events;
        this.store = store;
        this.executor = executor;
        this.queue = new SinkQueue(config.queueCapacity());
        this.meters = new SinkMeters(name, registry, queue::size);
        @SuppressWarnings("unchecked")
        Flow.Subscriber<Message<?>> channel = (Flow.Subscriber<Message<?>>) connector.getSubscriber(channelConfig(name,
                config, kafka));
        Multi.createFrom().<SinkQueue.Pending>emitter(e -> {
            e.onRequest(n -> executor.execute(this::pump));
            emitter = e;
        })
                .onItem().transformToUniAndConcatenate(this::message)
                .subscribe().withSubscriber(channel);
    }

    /**
     * The outgoing channel's configuration, as {@code mp.messaging.outgoing.sink-<name>.*} would give
     * it: the connection of {@code sandstream.kafka.*} (brokers, Event Hubs authentication) under the
     * sink's own {@code properties}, the topic, the CloudEvents mode and the serializers it needs.
     */
    static Config channelConfig(String name, Sink config, SandstreamConfig.Kafka kafka) {
        Map<String, String> props = new HashMap<>();
        KafkaClients.connection(kafka).forEach((k, v) -> props.put(k, String.valueOf(v)));
        props.putAll(kafka.properties());
        props.put("channel-name", "sink-" + name);
        props.put("connector", KafkaConnector.CONNECTOR_NAME);
        props.put("client.id", "sandstream-" + kafka.instanceId().map(id -> id + "-").orElse("") + "sink-" + name);
        props.put("topic", config.topic().orElseThrow());
        props.put("key.serializer", StringSerializer.class.getName());
        // Structured mode writes the whole event as JSON text; binary mode writes the document's bytes.
        props.put("value.serializer", (config.mode() == Sink.Mode.STRUCTURED ? StringSerializer.class
                : ByteArraySerializer.class).getName());
        props.put("cloud-events", "true");
        props.put("cloud-events-mode", config.mode() == Sink.Mode.STRUCTURED ? "structured" : "binary");
        props.put("max-inflight-messages", Integer.toString(config.inFlight()));
        // An outbound sink does not decide whether this instance can take work.
        props.put("health-enabled", "false");
        props.putAll(config.properties());
        return new SmallRyeConfigBuilder().withSources(new PropertiesConfigSource(props, "sandstream.sinks." + name, 100))
                .build();
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean wants(ResultDocument document) {
        return SinkChannel.wants(config, document);
    }

    @Override
    public void offer(ResultDocument document) {
        if (!queue.offer(document.executionId())) {
            meters.droppedOldest(queue.capacity());
        }
        executor.execute(this::pump);
    }

    /** Hands waiting events to the channel while it asks for them; never on the publisher's thread. */
    private synchronized void pump() {
        MultiEmitter<? super SinkQueue.Pending> channel = emitter;
        SinkQueue.Pending next;
        while (channel != null && !channel.isCancelled() && channel.requested() > 0 && (next = queue.poll()) != null) {
            channel.emit(next);
        }
    }

    /** The record of one waiting event: its CloudEvent as the connector's metadata, acknowledged by the brokers. */
    private Uni<Message<?>> message(SinkQueue.Pending pending) {
        return pending.load(store).<Message<?>>map(document -> {
            CloudEvent event = events.of(document, TraceContext.of(pending.trace()));
            Object payload = config.mode() == Sink.Mode.STRUCTURED ? JSON.convertValue(document, Map.class)
                    : events.data(event);
            Message<?> message = Message.of(payload, Metadata.of(cloudEvent(event),
                    OutgoingKafkaRecordMetadata.<String>builder().withKey(key(document)).build()));
            return message.withAck(() -> {
                meters.delivered(pending.publishedNanos());
                return CompletableFuture.completedFuture(null);
            }).withNack(failure -> {
                meters.failed.increment();
                meters.problem("a record was not acknowledged (" + failure.getClass().getSimpleName() + ": "
                        + failure.getMessage() + ")");
                return CompletableFuture.completedFuture(null);
            });
        }).onFailure().recoverWithUni(failure -> {
            meters.dropped.increment(); // gone from the store: nothing to send
            meters.problem("dropped an event (" + failure.getMessage() + ")");
            return Uni.createFrom().nullItem();
        });
    }

    /** The SDK's event as the connector's metadata: the same attributes and extensions as on HTTP. */
    private static OutgoingCloudEventMetadata<Object> cloudEvent(CloudEvent event) {
        OutgoingCloudEventMetadataBuilder<Object> builder = OutgoingCloudEventMetadata.builder()
                .withId(event.getId()).withType(event.getType()).withSource(URI.create(event.getSource().toString()))
                .withDataContentType(event.getDataContentType());
        if (event.getSubject() != null) {
            builder.withSubject(event.getSubject());
        }
        if (event.getTime() != null) {
            builder.withTimestamp(event.getTime().toZonedDateTime());
        }
        for (String extension : event.getExtensionNames()) {
            builder.withExtension(extension, String.valueOf(event.getExtension(extension)));
        }
        return builder.build();
    }

    /** A session's results on one partition, in order; work without a session spread by execution. */
    static String key(ResultDocument document) {
        return document.sessionId() != null ? "session:" + document.sessionId() : document.executionId();
    }

    @Override
    public Uni<Void> stop() {
        queue.stop();
        MultiEmitter<? super SinkQueue.Pending> channel = emitter;
        if (channel != null) {
            channel.complete(); // the connector closes its producer when the application stops
        }
        return Uni.createFrom().voidItem();
    }
}
