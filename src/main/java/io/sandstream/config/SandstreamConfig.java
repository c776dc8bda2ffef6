package io.sandstream.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithConverter;
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

    /**
     * Keys of the read and pool APIs as {@code KEY@SUBJECT_PREFIX} ({@code *}: every subject); a key
     * may appear several times. Empty: a key for every subject is generated on first start.
     */
    Optional<List<String>> apiKeys();

    Ingress ingress();

    Journal journal();

    /** The shared journal and result topics of {@code sandstream.journal.kind=kafka}. */
    Kafka kafka();

    Execution execution();

    Sessions sessions();

    PoolApi poolApi();

    /** The MCP server at {@code /mcp}. */
    Mcp mcp();

    Routing routing();

    /** What a stopping instance does with the work it runs (SIGTERM, a rolling deploy, a scale-in). */
    Shutdown shutdown();

    Results results();

    Outbound outbound();

    /** How instances of one Kafka cluster reach each other: the pool API's sessions live on one of them. */
    Cluster cluster();

    /** Secrets (Key Vault), ingress authentication (Entra ID), rate limits and request limits. */
    SecurityConfig security();

    /** What each tenant may hold (API.md §3, Tenants). */
    Tenants tenants();

    /**
     * Quotas of every scoped tenant (a tenant is a scoped key's subject prefix), so that one tenant
     * cannot fill a pool or the journal for everyone. The shared tenant (unscoped keys, the
     * operator) is bounded by the pool and journal limits only. Exceeded: {@code 429} with
     * {@code Retry-After}.
     */
    interface Tenants {
        /** Named sessions one tenant may hold in one pool at once. */
        @WithDefault("10")
        int maxSessions();

        /**
         * Bytes one session's {@code /mnt/data} may hold, checked whenever files are put into it
         * (uploads, an event's {@code files}); what code writes is capped by the pool's
         * {@code limits.data-mib}.
         */
        @WithDefault("268435456")
        long maxSessionBytes();

        /** Executions of one tenant accepted and not finished yet. */
        @WithDefault("2000")
        long maxQueued();

        /** Seconds a client is told to wait in {@code Retry-After} when a session quota is exceeded. */
        @WithDefault("5")
        int retryAfterSeconds();

        /** Per-tenant overrides, by the tenant's subject prefix: {@code sandstream.tenants.quota."tenant-a/".max-sessions}. */
        Map<String, Quota> quota();

        /**
         * The key of the hash that names a tenant's sessions in Azure Container Apps pools (every
         * instance of a deployment must share it). Unset: an unkeyed hash, which still keeps
         * tenants apart.
         */
        Optional<String> acaIdentifierKey();
    }

    /** One tenant's own limits; what is unset is the default of {@link Tenants}. */
    interface Quota {
        java.util.OptionalInt maxSessions();

        java.util.OptionalLong maxSessionBytes();

        java.util.OptionalLong maxQueued();
    }

    /**
     * Destinations every result is POSTed to as a CloudEvent {@code io.sandstream.code.executed},
     * by name ({@code sandstream.sinks.<name>.*}). None by default; only these URLs are ever called.
     */
    Map<String, Sink> sinks();

    /** The dynamic-sessions data plane served under {@code /pools/{pool}/}. */
    interface PoolApi {
        /** Most asynchronous executions remembered for {@code GET executions/{id}}; the oldest is forgotten first. */
        @WithDefault("1000")
        int asyncExecutions();

        /** How long an asynchronous execution can be polled after it was submitted. */
        @WithDefault("1h")
        Duration asyncExecutionTtl();
    }

    /** The MCP server at {@code /mcp} (Streamable HTTP): its sessions, resumable streams and waits. */
    interface Mcp {
        /** MCP sessions held at once; an {@code initialize} beyond them is refused until one ends or expires. */
        @WithDefault("1000")
        int maxSessions();

        /** An MCP session unused this long is forgotten (its sandbox sessions keep their own cooldown). */
        @WithDefault("30m")
        Duration sessionIdleTimeout();

        /** Events each SSE stream keeps for a client that reconnects with {@code Last-Event-ID}. */
        @WithDefault("256")
        int replayEvents();

        /**
         * Longest a {@code run_code} call waits for its result (queue and run); past it the call
         * answers the execution id, whose result stays readable on {@code /executions/{id}}.
         */
        @WithDefault("300s")
        Duration resultWait();
    }

    interface Outbound {
        /**
         * CloudEvent {@code source} of a result whose own source is missing or not a URI reference
         * (a malformed event rejected in a batch).
         */
        @WithDefault("/sandstream")
        String defaultSource();
    }

    /** One outbound sink: where, in which shape, which results, and how hard to try. */
    interface Sink {
        /** How a sink receives events. */
        enum Kind {
            /** A CloudEvents HTTP receiver: one event per POST. */
            CLOUDEVENTS,
            /** An Event Grid topic with the CloudEvents input schema: a batch of one, {@code aeg-sas-key} header. */
            EVENTGRID,
            /**
             * A Kafka topic (or an Azure Event Hub): one record per event in the CloudEvents Kafka
             * binding, keyed by session, through SmallRye Reactive Messaging's Kafka connector.
             */
            KAFKA
        }

        /** CloudEvents content mode of {@code kind=cloudevents} and {@code kind=kafka}. */
        enum Mode {
            /** {@code Content-Type: application/cloudevents+json}, the whole event in the body (the record's value). */
            STRUCTURED,
            /** {@code ce-*} ({@code ce_*} on Kafka) headers, the result document alone as an {@code application/json} body. */
            BINARY
        }

        /** {@code http} or {@code https} URL POSTed to. Redirects are not followed. Required unless {@code kind=kafka}. */
        Optional<String> url();

        /** The topic (event hub) of {@code kind=kafka}. */
        Optional<String> topic();

        /**
         * {@code kind=kafka}: Kafka client and connector properties over the connection of
         * {@code sandstream.kafka.*} (brokers, Event Hubs authentication), e.g. {@code "bootstrap.servers"}
         * for another cluster, {@code "delivery.timeout.ms"}, {@code "compression.type"}.
         */
        Map<String, String> properties();

        @WithDefault("cloudevents")
        Kind kind();

        @WithDefault("structured")
        Mode mode();

        /** Event Grid topic access key, sent as {@code aeg-sas-key}; required for {@code kind=eventgrid}. */
        Optional<String> key();

        /** Only results whose {@code subject} starts with this. */
        Optional<String> subjectPrefix();

        /**
         * Only results with one of these final {@code status}es: {@code Succeeded}, {@code Failed},
         * {@code TimedOut} (or {@code timed-out}), {@code Rejected}, {@code Cancelled}.
         */
        Optional<List<ExecutionStatus>> status();

        /** Tries per event, the first included; then the event is counted {@code failed}. */
        @WithDefault("8")
        int maxAttempts();

        /** Pause before the first retry; doubles on each further retry (with jitter). */
        @WithDefault("500ms")
        Duration backoffInitial();

        /** Longest pause between retries; also how long the circuit breaker stays open. */
        @WithDefault("60s")
        Duration backoffMax();

        /** One attempt, from connecting to the end of the response. */
        @WithDefault("10s")
        Duration timeout();

        /** Events waiting for this sink; when full, the oldest waiting event is dropped. */
        @WithDefault("10000")
        int queueCapacity();

        /**
         * Deliveries to this sink in flight at once (for {@code kind=kafka}: records awaiting the
         * brokers' acknowledgement). Default 4 for HTTP, 256 for Kafka.
         */
        OptionalInt concurrency();

        /** {@link #concurrency}, or the default of the sink's kind. */
        default int inFlight() {
            return concurrency().orElse(kind() == Kind.KAFKA ? 256 : 4);
        }
    }

    interface Routing {
        /** Waiting this long promotes work one lane up, so {@code low} is never starved. */
        @WithDefault("5s")
        Duration aging();

        /** What fairness is between: {@code source} or {@code subject} (its first path segment). */
        @WithDefault("source")
        TenantFrom tenant();

        /**
         * Starts of one execution (crash recoveries and backend retries) before it is given up as
         * Failed ({@code ExecutionAbandoned}); with Kafka the starts are counted across instances and
         * the given-up event goes to the dead-letter topic.
         */
        @WithDefault("3")
        int maxAttempts();

        /**
         * First pause before asking a pool with no room again (doubling, capped at 2 s, for as long
         * as it takes) or retrying a backend failure (doubling, capped at 10 s, 20 times).
         */
        @WithDefault("200ms")
        Duration retryBackoff();

        /**
         * Results computed but not stored yet, held in memory. A session and its pool slot are free
         * as soon as the code has run; storing follows. Above this many, no new work starts, so a
         * result store outage pauses execution instead of filling memory.
         */
        @WithDefault("256")
        int maxUnpersisted();

        /**
         * Rules by event {@code type} and {@code subject} (exact, prefix, suffix — like Event Grid
         * filters), tried in order; the first that matches gives the priority (when the event gave
         * none) and/or the pool.
         */
        List<Rule> rules();
    }

    interface Shutdown {
        /**
         * How long a stopping instance lets the executions it runs finish (and their results be
         * stored) before it leaves; meanwhile it is not ready, refuses new work with {@code 503} and
         * starts nothing queued. What is still running then is interrupted and runs again (on
         * another instance with Kafka, at the next start with SQLite). Must fit the platform's grace
         * period after the preStop wait: 200 s + 15 s preStop under Kubernetes' 240 s.
         */
        @WithDefault("200s")
        Duration drainTimeout();
    }

    /** What the routing tenant (fairness, ingress rate limits) of an event is taken from. */
    enum TenantFrom {
        /** The event's {@code source}. */
        SOURCE,
        /** The first path segment of the event's {@code subject} (its {@code source} when it has none). */
        SUBJECT
    }

    /** One routing rule: every condition given must hold. */
    interface Rule {
        Optional<String> type();

        Optional<String> typePrefix();

        Optional<String> subject();

        Optional<String> subjectPrefix();

        Optional<String> subjectSuffix();

        /** {@code high|normal|low}. */
        Optional<Priority> priority();

        /** Name of the pool to run in (its language must be the request's). */
        Optional<String> pool();
    }

    /** Local session pools by name; {@code python} and {@code javascript} are configured by default. */
    Map<String, Pool> pools();

    /**
     * Pools run by Azure Container Apps dynamic sessions, by name ({@code sandstream.aca-pools.<name>.*}).
     * None by default. Names are shared with {@link #pools()}: one name, one pool.
     */
    Map<String, AcaPool> acaPools();

    /** The two shapes of the dynamic-sessions data plane. */
    enum AcaContract {
        /** {@code 2024-02-02-preview}, {@code 2024-08-02-preview}: {@code code/execute}, {@code files/upload}, … */
        LEGACY,
        /** {@code 2024-10-02-preview} and later: {@code executions}, {@code files/{name}}, {@code session}, … */
        RESOURCE
    }

    /**
     * One pool of Azure Container Apps dynamic sessions reached over its data plane. Every limit has
     * a default that is safe for a pool of the size Azure creates by default.
     */
    interface AcaPool {
        /**
         * The pool management endpoint, e.g. {@code https://<region>.dynamicsessions.io/subscriptions/<id>/
         * resourceGroups/<group>/sessionPools/<name>}; any base URL serving the same API works
         * (sandstream's own {@code /pools/<pool>} included).
         */
        String endpoint();

        /**
         * What the pool's sessions run, {@code python} or {@code javascript} (what Azure's code
         * interpreter session pools run).
         */
        @WithConverter(LanguageConverter.class)
        Language language();

        /** {@code api-version} sent on every call. */
        @WithDefault("2025-02-02-preview")
        String apiVersion();

        /** Which request shapes to use; by default the one {@link #apiVersion()} belongs to. */
        Optional<AcaContract> contract();

        /**
         * Sent as {@code Authorization: Bearer <api-key>} instead of an Entra ID token: for
         * endpoints that take a key (another sandstream) and for tests. Without it, tokens come from
         * {@code DefaultAzureCredential}.
         */
        Optional<String> apiKey();

        /** Client id of the user-assigned managed identity {@code DefaultAzureCredential} should use. */
        Optional<String> managedIdentityClientId();

        /** Entra ID scope of the data plane's tokens. */
        @WithDefault("https://dynamicsessions.io/.default")
        String tokenScope();

        /** A token is renewed this long before it expires (earlier when Entra says so). */
        @WithDefault("5m")
        Duration tokenRefreshMargin();

        /** Executions sent to the pool at once; set it to the pool's {@code maxConcurrentSessions}. */
        @WithDefault("20")
        int maxSessions();

        /** The pool's cooldown: how long an unused session is listed as still alive. */
        @WithDefault("300s")
        Duration cooldown();

        /** Longest wait for one HTTP call; above the longest execution ({@code timeoutSeconds} ≤ 220). */
        @WithDefault("240s")
        Duration timeout();

        /** Longest wait for a connection. */
        @WithDefault("10s")
        Duration connectTimeout();

        /** Largest file uploaded to a session, bytes. */
        @WithDefault("33554432")
        int transferBytes();

        /** Retries of a call answered 429, "pool full", 5xx or not answered at all; then the caller decides. */
        @WithDefault("3")
        int maxRetries();

        /** Pause before the first retry; doubles on each further one (with jitter). */
        @WithDefault("500ms")
        Duration backoffInitial();

        /** Longest pause between retries. */
        @WithDefault("10s")
        Duration backoffMax();

        /** Calls the circuit breaker looks at; when {@link #breakerFailureRatio()} of them failed, it opens. */
        @WithDefault("10")
        int breakerRequests();

        /** Share of 5xx or unanswered calls among the last {@link #breakerRequests()} that opens the breaker. */
        @WithDefault("0.5")
        double breakerFailureRatio();

        /** How long an open breaker refuses calls before it lets one through to test the endpoint. */
        @WithDefault("30s")
        Duration breakerDelay();
    }

    interface Sessions {
        /**
         * Directory for what sandboxes load (runner scripts, seccomp filter), written by the service
         * and checked (owner, mode) before every sandbox start. Default: {@code runtime} in the data
         * directory. Refused when owned by another uid or writable by group or others; created mode
         * 700 when missing; one instance per directory.
         */
        Optional<Path> runtimeDir();

        /**
         * First host uid given to sandboxes; every live sandbox runs as a host uid of its own, from a
         * block of 4096 that the instance claims host-wide (see {@code uid-lock-dir}). When another
         * instance holds this block, the next free one is taken (and logged).
         */
        @WithDefault("200000")
        int firstUid();

        /**
         * Where instances on one host claim their uid blocks with lock files: the same directory for
         * all of them, writable only by root or the service's user (or sticky). Default:
         * {@code /run/lock}; a configured one is created mode 700 when missing.
         */
        Optional<Path> uidLockDir();

        /**
         * Program that runs each sandbox as its host uid, called as {@code HELPER UID -- COMMAND…}.
         * Default: util-linux {@code unshare --setgid=UID --setuid=UID} (the service runs as root, or
         * unshare holds the capabilities). The images set {@code sandstream-setuid} ({@code src/main/docker}), the
         * only file there with CAP_SETUID/CAP_SETGID, which refuses uids outside the sandbox range.
         */
        Optional<Path> uidHelper();

        /** Python interpreter run inside the sandboxes. */
        @WithDefault("/usr/bin/python3")
        String python();

        /** Node.js run inside the sandboxes. */
        @WithDefault("/usr/bin/node")
        String node();

        /** Time an interrupted execution gets to stop before its sandbox is killed. */
        @WithDefault("2s")
        Duration interruptGrace();

        /**
         * When the local pools start their warm sandboxes if no readiness check comes first: this
         * long after the HTTP server listens. The first readiness check starts them at once, after
         * its answer is made, so that a probe's first answer does not wait for a dozen sandbox
         * starts on the same cores. Until then sessions start their sandboxes cold.
         */
        @WithDefault("1s")
        Duration warmUpDelay();
    }

    /** One local pool: the knobs of an Azure dynamic sessions pool plus per-execution limits. */
    interface Pool {
        /**
         * What the pool's sessions run: a language a local sandbox runner exists for, {@code python}
         * or {@code javascript}. Requests may ask for any language a configured pool runs.
         */
        @WithConverter(LanguageConverter.class)
        Language language();

        /** Most allocated sessions at once; beyond it, "pool full". */
        @WithDefault("20")
        int maxSessions();

        /** Sandboxes kept started and waiting, refilled in the background. */
        @WithDefault("5")
        int readySessions();

        /** Idle time after which a session is destroyed; every use starts it again. */
        @WithDefault("300s")
        Duration cooldown();

        /**
         * Longest life of a session from its creation, however often it is used: past it the session
         * is ended (once its running work is done) and the next call with its identifier gets a fresh
         * one. Bounds how long anything a session started in the background can run.
         */
        @WithDefault("1h")
        Duration maxLifetime();

        Limits limits();

        /** Bounds on the file operations of the pool API and of an execution's input files. */
        FileOperations files();
    }

    /** A session's files are the user's: whatever they are, an operation on them ends in bounded time and size. */
    interface FileOperations {
        /**
         * Longest one file operation (upload, download, listing, delete) may take; past it the
         * session's sandbox is destroyed and the session released (the call fails with a 4xx).
         */
        @WithDefault("30s")
        Duration timeout();

        /** Most files one listing answers; beyond it the listing is cut and says {@code truncated}. */
        @WithDefault("10000")
        int listMaxEntries();

        /** Most bytes (of the runner's JSON entries) one listing answers; beyond it, cut the same way. */
        @WithDefault("1048576")
        int listMaxBytes();
    }

    /** Per-execution and per-sandbox limits (nsjail's config is the model). */
    interface Limits {
        /** Memory of the whole sandbox, MiB (cgroup when the host allows it, else address-space rlimit). */
        @WithDefault("512")
        int memoryMib();

        /** CPU time one execution may use, seconds. */
        @WithDefault("60")
        int cpuSeconds();

        /**
         * CPU time any one process of the sandbox may use in its whole life, seconds: the hard
         * {@code RLIMIT_CPU}, set before the runner starts, so code cannot raise it. The runner's own
         * total over all of a session's executions counts too: a session past it ends.
         */
        @WithDefault("600")
        int processCpuSeconds();

        /**
         * CPU bandwidth of the whole sandbox (every process in it, background work between executions
         * included), thousandths of a core: a cgroup CPU quota where the host lets us create cgroups.
         * Without one, only the per-process hard limit above bounds background work.
         */
        @WithDefault("1000")
        int cpuMillicores();

        /** Processes and threads in the sandbox. */
        @WithDefault("64")
        int pids();

        /** Open file descriptors per process. */
        @WithDefault("256")
        int openFiles();

        /** Largest file a process may write, MiB. */
        @WithDefault("64")
        int fileSizeMib();

        /** Size of the session's {@code /mnt/data}, MiB. */
        @WithDefault("256")
        int dataMib();

        /** Size of the session's {@code /tmp}, MiB. */
        @WithDefault("64")
        int tmpMib();

        /** Size of the session's {@code /dev/shm} (POSIX shared memory, semaphores), MiB. */
        @WithDefault("64")
        int shmMib();

        /** stdout plus stderr bytes kept per execution; beyond it output is cut and the code interrupted. */
        @WithDefault("1048576")
        int outputBytes();

        /** Largest single file upload or download, bytes. */
        @WithDefault("33554432")
        int transferBytes();
    }

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

    /** Where accepted events are recorded until their result is stored. */
    enum JournalKind {
        /** The embedded SQLite journal: one instance, the default. */
        SQLITE,
        /** Kafka (or Azure Event Hubs' Kafka endpoint): several instances share the work. */
        KAFKA
    }

    interface Journal {
        /** {@code sqlite} (default) or {@code kafka}; see {@link Kafka}. */
        @WithDefault("sqlite")
        JournalKind kind();

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

        /**
         * Page cache of the SQLite journal's writer connection (SQLite's {@code cache_size}), in
         * MiB. Every append, start and result looks up a random page of the executionId indexes;
         * on SQLite's default (2 MiB) most of those were a read from the file
         * (docs/benchmarks.md). The cache fills only as far as the file's hot pages need. With
         * {@code kind=kafka}, the same for the results copy's writer and for its check of each record
         * taken (one read of the id index per execution).
         */
        @WithDefault("32")
        int cacheMib();

        /**
         * WAL size, in MiB, past which a commit of the SQLite journal's writer copies the WAL into
         * the database file (SQLite's {@code wal_autocheckpoint}, in pages). A checkpoint writes
         * each page changed since the last one once, however often it changed: on SQLite's 4 MiB
         * default the writer copied about half the pages it wrote (docs/benchmarks.md). The WAL
         * file stays this large on disk. With {@code kind=kafka}, the same for the results copy.
         */
        @WithDefault("32")
        int checkpointMib();
    }

    /** How a {@code kafka} journal authenticates to the brokers. */
    enum KafkaAuth {
        /** PLAINTEXT, or whatever {@code sandstream.kafka.properties} set. */
        NONE,
        /** Azure Event Hubs: SASL OAUTHBEARER over TLS with tokens from {@code DefaultAzureCredential}. */
        ENTRA,
        /** Azure Event Hubs: SASL PLAIN over TLS with {@code $ConnectionString} and {@code connection-string}. */
        CONNECTION_STRING
    }

    interface Kafka {
        /** {@code host:port,...}; for Event Hubs {@code <namespace>.servicebus.windows.net:9093}. Required with kind=kafka. */
        Optional<String> bootstrapServers();

        /**
         * Topics are {@code <prefix>high}, {@code <prefix>normal}, {@code <prefix>low}, {@code <prefix>results}
         * and {@code <prefix>live}.
         */
        @WithDefault("sandstream-")
        String topicPrefix();

        /** The consumer group the instances share the lanes in. */
        @WithDefault("sandstream")
        String groupId();

        /** This instance's name in client ids and logs; default: the host name. */
        Optional<String> instanceId();

        /** Create missing topics at start (off where an operator or IaC owns them). */
        @WithDefault("true")
        boolean createTopics();

        /** Partitions of each lane topic when created: the most instances that can share a lane. */
        @WithDefault("12")
        int lanePartitions();

        /** Replication factor of created topics; -1: the broker's default. */
        @WithDefault("-1")
        short replicationFactor();

        /**
         * Most lane records this instance holds taken and not yet finished (queued here, running or
         * being stored). The rest stays in Kafka for other instances to take. Of them, one partition
         * may have at most its share (this over the lane's partitions held here) waiting to start:
         * a partition carries the sessions keyed to it, whose events run one after another.
         */
        @WithDefault("256")
        int maxInFlight();

        /**
         * How long a request waits for the brokers' acknowledgement before it is answered 503, and a
         * result before it is sent again: the producers' {@code delivery.timeout.ms} (at least 2 s),
         * within which Kafka calls every send back.
         */
        @WithDefault("30s")
        Duration sendTimeout();

        /**
         * How long the acknowledged producer (one per instance, shared by the journal, the results
         * and the session directory) holds a record to batch it with later ones (Kafka's
         * {@code linger.ms}; the live topic's producer lingers 5 ms, nobody waits for it). Every
         * accepted event and every result waits for its send, so at low load any linger is latency
         * added twice per {@code ?wait}; under load records batch anyway while earlier sends are in
         * flight. Raise it to trade latency for fewer requests.
         */
        @WithDefault("0ms")
        Duration linger();

        /**
         * Requests the acknowledged producer keeps in flight to a broker (Kafka's
         * {@code max.in.flight.requests.per.connection}, 1–5 with idempotence). One: while a request
         * waits for its acknowledgement, the records sent meanwhile gather into the next request,
         * as the SQLite journal's group commit does. Under load that means fewer, larger requests
         * (in the scale-out benchmark 1.1–1.5× the executions/s, with 0.65–0.85× the service's and
         * the broker's CPU per execution, against 5); a lone request is sent at once either way.
         */
        @WithDefault("1")
        int sendsInFlight();

        /**
         * Longest a lane fetch waits at the broker for records to arrive (Kafka's
         * {@code fetch.max.wait.ms}, for the lane consumer only). New records end the wait at once,
         * so this is not the latency of new work. It is how long a lane that held
         * {@code max-in-flight} records waits before its next fetch, since meanwhile the consumer
         * has a fetch in flight for the other lanes, often empty ones (Kafka's 500 ms left the
         * dispatcher's queue empty for half the time in the scale-out benchmark). Idle, each
         * instance sends a fetch this often.
         */
        @WithDefault("20ms")
        Duration fetchWait();

        /**
         * How long a silent instance keeps its partitions: after a crash, its unfinished work moves
         * to the others after this (Kafka's {@code session.timeout.ms}; Event Hubs allows 6–300 s).
         */
        @WithDefault("10s")
        Duration sessionTimeout();

        /**
         * How long a rebalance waits for this instance's running executions to be stored before it
         * gives their partitions away (then another instance may run them again).
         */
        @WithDefault("240s")
        Duration revokeWait();

        /**
         * Where events given up after {@code sandstream.routing.max-attempts} starts go, as they
         * were received (headers say why and how often they started); default
         * {@code <prefix>dead-letter}. Created with the other topics.
         */
        Optional<String> deadLetterTopic();

        @WithDefault("none")
        KafkaAuth auth();

        /** Event Hubs namespace connection string, for {@code auth=connection-string}. */
        Optional<String> connectionString();

        /** Any other Kafka client property, passed through to producers and consumers. */
        Map<String, String> properties();

        /** Live output and status shared between instances through {@code <prefix>live}. */
        Live live();
    }

    /**
     * The live topic {@code <prefix>live}: each instance sends the {@code Running} status and the
     * output chunks of what it runs, and every instance reads them for its execution streams. Short
     * retention: results carry the whole output, the chunks matter only while an execution runs.
     */
    interface Live {
        /** Off: streams on other instances than the executing one see {@code Queued}, then the result. */
        @WithDefault("true")
        boolean enabled();

        /** How long the topic keeps records (its {@code retention.ms} when created). */
        @WithDefault("10m")
        Duration retention();

        /** Partitions of the topic when created; every instance reads all of them. */
        @WithDefault("1")
        int partitions();

        /** Longest chunk in one record, bytes; longer chunks are split (at a UTF-8 character boundary). */
        @WithDefault("65536")
        int maxChunkBytes();

        /**
         * Output bytes per second this instance sends (bursts up to one second's worth); chunks beyond
         * it are dropped from the topic (counted), never from the result.
         */
        @WithDefault("4194304")
        long maxBytesPerSecond();

        /**
         * How long a stream on another instance waits, once the result has arrived, for chunks sent
         * before it that it has not read yet (the two topics are read independently).
         */
        @WithDefault("2s")
        Duration resultWait();
    }

    /**
     * Session calls reach the instance that owns the session: the one holding its lane partition
     * (docs/scale-out.md, "Sessions across instances"). Used with {@code journal.kind=kafka} only.
     */
    interface Cluster {
        /**
         * This instance's internal URL, where the others forward session calls; published in its
         * lane consumer's client id. Default: {@code http://<this host's address>:<HTTP port>}
         * (the pod IP on Kubernetes).
         */
        Optional<String> advertisedUrl();

        /**
         * Shared secret that signs forwarded calls between instances, so that nobody else can send
         * a call as "already forwarded". Default: derived from {@code sandstream.api-keys} (which
         * every instance of a cluster shares); set it when keys rotate one instance at a time.
         */
        Optional<String> secret();

        /** Connecting to the owner of a session before the call is answered 503. */
        @WithDefault("2s")
        Duration forwardConnectTimeout();

        /**
         * Silence on a forwarded call (no byte either way) before it is cut; above the longest
         * execution ({@code execution.max-timeout-seconds}).
         */
        @WithDefault("300s")
        Duration forwardIdleTimeout();

        /** How long a call waits for its session's partition to have an owner (during a rebalance) before 503. */
        @WithDefault("15s")
        Duration ownerWait();
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

    interface Results {
        /**
         * Where results are stored: {@code sqlite} (embedded, {@code results.db} in the data dir) or
         * {@code azure-blob} (Azure Blob Storage, with {@code results.db} kept as the local index).
         */
        @WithDefault("sqlite")
        StoreKind store();

        AzureBlob azure();
    }

    enum StoreKind {
        SQLITE, AZURE_BLOB
    }

    /** The Azure Blob result store; used only when {@code sandstream.results.store=azure-blob}. */
    interface AzureBlob {
        /** Storage connection string (account key or SAS); wins over {@code endpoint}. */
        Optional<String> connectionString();

        /**
         * Account blob endpoint, e.g. {@code https://ACCOUNT.blob.core.windows.net}, reached with
         * {@code DefaultAzureCredential} (managed identity, workload identity, Azure CLI, ...).
         */
        Optional<String> endpoint();

        /** Container of the result documents, one {@code {executionId}.json} each. */
        @WithDefault("execution-results")
        String resultsContainer();

        /** Container of the full output, {@code {executionId}/stdout.txt} and {@code stderr.txt}. */
        @WithDefault("execution-logs")
        String logsContainer();

        /**
         * Longest wait for one blob operation, the SDK's own retries included. A put that fails is
         * retried by the dispatcher until it succeeds, so this only bounds how long one try holds on.
         */
        @WithDefault("10s")
        Duration requestTimeout();

        /**
         * Rich outputs (figures, tables) larger than this, in bytes of their data as the document
         * holds it (base64 for images), are written as blobs of their own beside the document,
         * {@code {executionId}/outputs/...}, which links them ({@code href}); smaller ones stay inline.
         * The default keeps a typical figure inline and the document blob small.
         */
        @WithDefault("65536")
        int outputBlobThreshold();
    }
}
