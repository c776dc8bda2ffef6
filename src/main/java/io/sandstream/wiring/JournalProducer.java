package io.sandstream.wiring;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Produces;
import jakarta.enterprise.inject.Typed;
import jakarta.inject.Singleton;

import java.net.InetAddress;
import java.net.UnknownHostException;

import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.LaunchMode;
import io.quarkus.runtime.Startup;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.journal.Journal;
import io.sandstream.journal.kafka.KafkaJournal;
import io.sandstream.journal.sqlite.SqliteJournal;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.kafka.SessionDirectory;
import io.sandstream.results.ResultStore;
import io.sandstream.tenancy.TenantQuotas;

/**
 * The one {@link Journal} bean, chosen at run time by {@code sandstream.journal.kind}: the embedded
 * SQLite file, or the Kafka lane topics shared by several instances.
 */
@Singleton
public class JournalProducer {

    @Produces
    @Startup
    @ApplicationScoped
    Journal journal(SandstreamConfig config, MeterRegistry registry, ResultStore results,
            Instance<KafkaClients> kafka, Instance<SqliteJournal> sqlite, TenantQuotas quotas) {
        if (config.journal().kind() == SandstreamConfig.JournalKind.KAFKA) {
            KafkaJournal journal = new KafkaJournal(kafka.get(), config, registry,
                    () -> results.caughtUp().subscribeAsCompletionStage(), results::storedNow, quotas);
            journal.start();
            return journal;
        }
        return sqlite.get();
    }

    /**
     * Only resolved with the SQLite journal: the {@link Journal} bean, and the database the SQLite
     * result store shares ({@code ResultStoreProducer}).
     */
    @Produces
    @Singleton
    @Typed(SqliteJournal.class)
    SqliteJournal sqliteJournal(SandstreamConfig config, DataDirectory dataDirectory, MeterRegistry registry,
            TenantQuotas quotas) {
        SqliteJournal journal = new SqliteJournal(config, dataDirectory, registry, quotas);
        journal.open();
        return journal;
    }

    /** Only resolved with a Kafka journal; the topics exist once it is. */
    @Produces
    @Singleton
    KafkaClients kafkaClients(SandstreamConfig config) {
        KafkaClients clients = new KafkaClients(config.kafka(), advertisedUrl(config), config.journal().maxPending());
        clients.ensureTopics();
        return clients;
    }

    /** Only resolved with a Kafka journal, by the forwarding of session calls ({@code edge/SessionForwarding}). */
    @Produces
    @Singleton
    SessionDirectory sessionDirectory(KafkaClients clients) {
        return new SessionDirectory(clients);
    }

    /** {@code sandstream.cluster.advertised-url}, else this host's address (the pod IP) and the HTTP port. */
    static String advertisedUrl(SandstreamConfig config) {
        return config.cluster().advertisedUrl().orElseGet(() -> {
            Config all = ConfigProvider.getConfig();
            String portKey = LaunchMode.current() == LaunchMode.TEST ? "quarkus.http.test-port" : "quarkus.http.port";
            int port = all.getOptionalValue(portKey, Integer.class).orElse(8080);
            try {
                return "http://" + InetAddress.getLocalHost().getHostAddress() + ":" + port;
            } catch (UnknownHostException e) {
                return "http://localhost:" + port;
            }
        });
    }

    void close(@Disposes SessionDirectory directory) {
        directory.close();
    }

    void close(@Disposes KafkaClients clients) {
        clients.owners().close();
    }

    void close(@Disposes Journal journal) {
        if (journal instanceof KafkaJournal kafka) {
            kafka.close();
        }
    }

    void close(@Disposes SqliteJournal journal) {
        journal.close();
    }
}
