package io.sandstream.wiring;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import org.jboss.logging.Logger;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.Startup;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.journal.sqlite.SqliteJournal;
import io.sandstream.kafka.KafkaClients;
import io.sandstream.results.MeteredResultStore;
import io.sandstream.results.ResultBus;
import io.sandstream.results.ResultStore;
import io.sandstream.results.blob.AzureBlobResultStore;
import io.sandstream.results.blob.StorageConnection;
import io.sandstream.results.kafka.KafkaResultStore;
import io.sandstream.results.kafka.LiveRelay;
import io.sandstream.results.sqlite.SqliteResultStore;
import io.sandstream.secrets.Secrets;

/**
 * The one {@link ResultStore} bean, chosen at run time by {@code sandstream.results.store} (a build
 * time switch would bake the choice into the jar). With the SQLite journal and SQLite results,
 * the store is a table of the journal's file, written by the journal's writer (one commit stores a
 * result and finishes its entry); otherwise one SQLite file of its own, {@code results.db}, is
 * opened: the blob store's index, or (with a Kafka journal) this instance's copy of the results
 * topic.
 */
@Singleton
public class ResultStoreProducer {

    private static final Logger LOG = Logger.getLogger(ResultStoreProducer.class);

    @Produces
    @Startup
    @ApplicationScoped
    ResultStore resultStore(SandstreamConfig config, DataDirectory dataDirectory, MeterRegistry registry, Secrets secrets,
            ResultBus bus, Instance<KafkaClients> kafka, Instance<SqliteJournal> sqliteJournal) {
        SandstreamConfig.Results results = config.results();
        if (config.journal().kind() == SandstreamConfig.JournalKind.KAFKA) {
            if (results.store() == SandstreamConfig.StoreKind.AZURE_BLOB) {
                throw new IllegalStateException("sandstream.results.store=azure-blob cannot be combined with "
                        + "sandstream.journal.kind=kafka yet: with Kafka the results topic is the shared store");
            }
            SqliteResultStore copy = SqliteResultStore.copyOf(dataDirectory, config.journal());
            copy.open();
            LiveRelay live = config.kafka().live().enabled() ? new LiveRelay(kafka.get(), bus, registry) : null;
            KafkaResultStore store = new KafkaResultStore(kafka.get(), copy, bus, live);
            store.start();
            return new MeteredResultStore(store, "kafka", registry);
        }
        if (results.store() == SandstreamConfig.StoreKind.SQLITE) {
            // Both embedded: one database, one writer, a result and its journal finish in one commit.
            SqliteJournal journal = sqliteJournal.get();
            SqliteResultStore store = SqliteResultStore.shared(journal.file(), journal.writer(), journal::finishIn);
            store.open();
            journal.finishWithResults();
            return new MeteredResultStore(store, "sqlite", registry);
        }
        // Built before the index is opened: a configuration error then leaves nothing open.
        var blobClient = AzureBlobResultStore.client(results.azure(), StorageConnection.watched(secrets,
                config.security().keyVault().storageConnectionStringSecret(), results.azure().connectionString()));
        SqliteResultStore sqlite = new SqliteResultStore(dataDirectory);
        sqlite.open();
        AzureBlobResultStore blob = new AzureBlobResultStore(blobClient, results.azure(), sqlite);
        blob.start();
        LOG.infof("results stored in Azure Blob Storage at %s", blobClient.getAccountUrl());
        return new MeteredResultStore(blob, "azure-blob", registry);
    }

    void close(@Disposes ResultStore store) throws Exception {
        if (store instanceof AutoCloseable closeable) {
            closeable.close();
        }
    }
}
