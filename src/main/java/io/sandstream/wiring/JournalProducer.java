package io.sandstream.wiring;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.Startup;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.journal.Journal;
import io.sandstream.journal.kafka.KafkaJournal;
import io.sandstream.journal.sqlite.SqliteJournal;
import io.sandstream.kafka.KafkaClients;
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
    Journal journal(SandstreamConfig config, DataDirectory dataDirectory, MeterRegistry registry, ResultStore results,
            Instance<KafkaClients> kafka, TenantQuotas quotas) {
        if (config.journal().kind() == SandstreamConfig.JournalKind.KAFKA) {
            KafkaJournal journal = new KafkaJournal(kafka.get(), config, registry,
                    () -> results.caughtUp().subscribeAsCompletionStage(), quotas);
            journal.start();
            return journal;
        }
        SqliteJournal journal = new SqliteJournal(config, dataDirectory, registry, quotas);
        journal.open();
        return journal;
    }

    /** Only resolved with a Kafka journal; the topics exist once it is. */
    @Produces
    @Singleton
    KafkaClients kafkaClients(SandstreamConfig config) {
        KafkaClients clients = new KafkaClients(config.kafka());
        clients.ensureTopics();
        return clients;
    }

    void close(@Disposes Journal journal) {
        if (journal instanceof SqliteJournal sqlite) {
            sqlite.close();
        } else if (journal instanceof KafkaJournal kafka) {
            kafka.close();
        }
    }
}
