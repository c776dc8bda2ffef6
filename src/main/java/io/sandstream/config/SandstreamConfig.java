package io.sandstream.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * All of sandstream's own settings, grouped by pipeline stage. Environment variables map onto
 * these the Quarkus way: {@code SANDSTREAM_DATA_DIR} is {@code sandstream.data-dir}.
 */
@ConfigMapping(prefix = "sandstream")
public interface SandstreamConfig {

    /** Directory for the journal, the result index and generated keys. Created with mode 700. */
    @WithDefault("./data")
    Path dataDir();

    /**
     * Keys accepted on {@code POST /events} (query {@code code} or header {@code aeg-sas-key}).
     * Two may be listed at once while one is rotated out. Empty: a key is generated on first start.
     */
    Optional<List<String>> ingressKeys();

    Ingress ingress();

    Journal journal();

    Execution execution();

    interface Ingress {
        /** Largest accepted request body, bytes (Event Grid's limit is 1 MiB). */
        @WithDefault("1048576")
        int maxRequestBytes();

        /** Largest single event, bytes, measured as its JSON form (Event Grid's limit is 1 MiB). */
        @WithDefault("1048576")
        int maxEventBytes();

        /** Most events in one batch request (Event Grid sends at most 5,000). */
        @WithDefault("5000")
        int maxBatchEvents();

        /** CloudEvent {@code type}s that request an execution. */
        @WithDefault("io.sandstream.code.execute,Microsoft.EventGrid.ExecuteCode")
        List<String> acceptedTypes();

        /** Answer to {@code WebHook-Allowed-Rate} in the abuse-protection handshake: requests/minute or {@code *}. */
        @WithDefault("*")
        String allowedRate();

        /** {@code source} given to Event Grid schema events that carry no {@code topic}. */
        @WithDefault("/eventgrid")
        String eventGridDefaultSource();
    }

    interface Journal {
        /**
         * Most accepted-but-unfinished executions held at once; beyond it ingress answers
         * {@code 429} with {@code Retry-After}.
         */
        @WithDefault("10000")
        long maxPending();

        /** Seconds a client is told to wait in {@code Retry-After} when the journal is full. */
        @WithDefault("5")
        int retryAfterSeconds();

        /** Most appends (requests) folded into one transaction and fsync by the group committer. */
        @WithDefault("512")
        int maxGroupCommit();

        /** How long a request waits for its commit before it is answered 503. */
        @WithDefault("30s")
        Duration commitTimeout();
    }

    interface Execution {
        /** Largest {@code code}, bytes of UTF-8. */
        @WithDefault("262144")
        int maxCodeBytes();

        /** Timeout used when a request gives none, seconds. */
        @WithDefault("30")
        int defaultTimeoutSeconds();

        /** Largest {@code timeoutSeconds} a request may ask for (dynamic sessions allow 220). */
        @WithDefault("220")
        int maxTimeoutSeconds();

        /** Most files in one request. */
        @WithDefault("32")
        int maxFiles();

        /** Largest decoded size of all files of one request together, bytes. */
        @WithDefault("786432")
        int maxFilesBytes();
    }
}
