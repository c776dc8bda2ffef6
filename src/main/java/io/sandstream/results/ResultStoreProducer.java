package io.sandstream.results;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

import org.jboss.logging.Logger;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.Startup;
import io.sandstream.config.DataDirectory;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.secrets.Secrets;

/**
 * The one {@link ResultStore} bean, chosen at run time by {@code sandstream.results.store} (a build
 * time switch would bake the choice into the jar). Exactly one SQLite file is opened in either
 * mode: it is the store itself, or the blob store's index.
 */
@Singleton
public class ResultStoreProducer {

    private static final Logger LOG = Logger.getLogger(ResultStoreProducer.class);

    @Produces
    @Startup
    @ApplicationScoped
    ResultStore resultStore(SandstreamConfig config, DataDirectory dataDirectory, MeterRegistry registry, Secrets secrets) {
        SandstreamConfig.Results results = config.results();
        // Built before the index is opened: a configuration error then leaves nothing open.
        var blobClient = results.store() == SandstreamConfig.StoreKind.AZURE_BLOB
                ? AzureBlobResultStore.client(results.azure(), StorageConnection.watched(secrets,
                        config.security().keyVault().storageConnectionStringSecret(), results.azure().connectionString()))
                : null;
        SqliteResultStore sqlite = new SqliteResultStore(dataDirectory);
        sqlite.open();
        if (blobClient == null) {
            return new MeteredResultStore(sqlite, "sqlite", registry);
        }
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
