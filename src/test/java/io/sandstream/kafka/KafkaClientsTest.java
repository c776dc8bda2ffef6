package io.sandstream.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import javax.security.auth.callback.Callback;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerTokenCallback;
import org.junit.jupiter.api.Test;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;

import io.sandstream.config.TestConfigs;
import io.sandstream.model.Priority;
import reactor.core.publisher.Mono;

/** The client settings of each way to reach Kafka, and Event Hubs' OAUTHBEARER tokens. */
class KafkaClientsTest {

    private static KafkaClients clients(Map<String, String> properties) {
        Map<String, String> all = new java.util.HashMap<>(Map.of("sandstream.journal.kind", "kafka",
                "sandstream.kafka.bootstrap-servers", "ns1.servicebus.windows.net:9093",
                "sandstream.kafka.instance-id", "pod-7"));
        all.putAll(properties);
        return new KafkaClients(TestConfigs.sandstream(all).kafka());
    }

    @Test
    void plainKafkaNeedsNoCredentialAndPassesPropertiesThrough() {
        KafkaClients clients = clients(Map.of("sandstream.kafka.properties.\"ssl.truststore.location\"", "/etc/ts.jks",
                "sandstream.kafka.topic-prefix", "prod."));
        Map<String, Object> props = clients.common("lanes");
        assertFalse(props.containsKey("security.protocol"));
        assertEquals("sandstream-pod-7-lanes", props.get("client.id"));
        assertEquals("prod.high", clients.laneTopic(Priority.HIGH));
        assertEquals("prod.results", clients.resultsTopic());
        assertEquals("/etc/ts.jks", clients.config().properties().get("ssl.truststore.location"));
    }

    @Test
    void eventHubsWithEntraUsesOauthBearerOverTls() {
        Map<String, Object> props = clients(Map.of("sandstream.kafka.auth", "entra")).common("results");
        assertEquals("SASL_SSL", props.get("security.protocol"));
        assertEquals("OAUTHBEARER", props.get("sasl.mechanism"));
        assertEquals(EventHubsTokens.class.getName(), props.get("sasl.login.callback.handler.class"));
    }

    @Test
    void eventHubsWithAConnectionStringUsesSaslPlainWithItsUserName() throws Exception {
        String connection = "Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=app;SharedAccessKey=a\"b=";
        Map<String, Object> props = clients(Map.of("sandstream.kafka.auth", "connection-string",
                "sandstream.kafka.connection-string", connection)).common("admin");
        assertEquals("SASL_SSL", props.get("security.protocol"));
        assertEquals("PLAIN", props.get("sasl.mechanism"));
        // The JAAS line parses back to exactly the user and password Event Hubs expects, quote included.
        var parsed = org.apache.kafka.common.security.JaasContext.loadClientContext(
                Map.of("sasl.jaas.config", new org.apache.kafka.common.config.types.Password((String) props.get("sasl.jaas.config"))));
        Map<String, ?> options = parsed.configurationEntries().get(0).getOptions();
        assertEquals("$ConnectionString", options.get("username"));
        assertEquals(connection, options.get("password"));
    }

    /** Each accepted event and each result waits for its send: no linger unless configured. */
    @Test
    void theAcknowledgedProducersSendAtOnceUnlessALingerIsConfigured() {
        Map<String, Object> props = clients(Map.of()).producerProperties("journal");
        assertEquals(0, props.get("linger.ms"));
        assertEquals("all", props.get("acks"));
        assertEquals(5, clients(Map.of("sandstream.kafka.linger", "5ms")).producerProperties("results").get("linger.ms"));
        assertEquals("20", clients(Map.of("sandstream.kafka.properties.\"linger.ms\"", "20")).producerProperties("results")
                .get("linger.ms"));
    }

    /** One request in flight: what is sent while it waits for its acknowledgement batches into the next. */
    @Test
    void theAcknowledgedProducersKeepOneRequestInFlightUnlessConfigured() {
        assertEquals(1, clients(Map.of()).producerProperties("journal").get("max.in.flight.requests.per.connection"));
        assertEquals(true, clients(Map.of()).producerProperties("journal").get("enable.idempotence"));
        assertEquals(5, clients(Map.of("sandstream.kafka.sends-in-flight", "5")).producerProperties("results")
                .get("max.in.flight.requests.per.connection"));
        assertThrows(IllegalStateException.class, () -> clients(Map.of("sandstream.kafka.sends-in-flight", "6")));
        assertThrows(IllegalStateException.class, () -> clients(Map.of("sandstream.kafka.sends-in-flight", "0")));
    }

    /**
     * A lane that held all it may resumes once some of its work finished; the lane consumer's fetch
     * for the other lanes, in flight meanwhile, must not hold it back for Kafka's 500 ms.
     */
    @Test
    void theLaneConsumerWaitsBrieflyForRecordsUnlessConfigured() {
        assertEquals(20, clients(Map.of()).laneConsumerProperties(256).get("fetch.max.wait.ms"));
        assertEquals(256, clients(Map.of()).laneConsumerProperties(256).get("max.poll.records"));
        assertEquals(100, clients(Map.of("sandstream.kafka.fetch-wait", "100ms")).laneConsumerProperties(256)
                .get("fetch.max.wait.ms"));
    }

    /** One producer for the journal, the results and the session directory; the last to give it back closes it. */
    @Test
    void theAcknowledgedProducerIsSharedUntilItsLastUserGivesItBack() {
        KafkaClients clients = clients(Map.of("sandstream.kafka.bootstrap-servers", "127.0.0.1:1"));
        KafkaProducer<String, byte[]> journal = clients.sharedProducer();
        KafkaProducer<String, byte[]> results = clients.sharedProducer();
        assertSame(journal, results);
        clients.release(journal, Duration.ZERO);
        assertSame(results, clients.sharedProducer()); // still open: another user holds it
        clients.release(results, Duration.ZERO);
        clients.release(results, Duration.ZERO);
        assertThrows(IllegalStateException.class, () -> results.send(new ProducerRecord<>("t", new byte[0])));
        KafkaProducer<String, byte[]> next = clients.sharedProducer();
        assertNotSame(results, next);
        clients.release(next, Duration.ZERO);
    }

    @Test
    void misconfigurationStopsTheStart() {
        assertThrows(IllegalStateException.class, () -> clients(Map.of("sandstream.kafka.auth", "connection-string")));
        assertThrows(IllegalStateException.class, () -> new KafkaClients(TestConfigs.sandstream(
                Map.of("sandstream.journal.kind", "kafka")).kafka()));
    }

    @Test
    void eventHubsTokensAreForTheNamespaceAndCarryTheirExpiry() throws Exception {
        List<TokenRequestContext> asked = new ArrayList<>();
        OffsetDateTime expiry = OffsetDateTime.now().plusMinutes(50);
        TokenCredential credential = request -> {
            asked.add(request);
            return Mono.just(new AccessToken("entra-token", expiry));
        };
        EventHubsTokens tokens = new EventHubsTokens(credential);
        tokens.configure(Map.of("bootstrap.servers", List.of("ns1.servicebus.windows.net:9093")), "OAUTHBEARER", List.of());
        OAuthBearerTokenCallback callback = new OAuthBearerTokenCallback();
        tokens.handle(new Callback[] {callback});
        assertEquals("entra-token", callback.token().value());
        assertEquals(Set.of("https://ns1.servicebus.windows.net/.default"), callback.token().scope());
        assertEquals(expiry.toInstant().toEpochMilli(), callback.token().lifetimeMs());
        assertEquals(List.of("https://ns1.servicebus.windows.net/.default"), asked.get(0).getScopes());
        assertTrue(callback.token().startTimeMs() <= System.currentTimeMillis());
    }
}
