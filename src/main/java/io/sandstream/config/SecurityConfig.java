package io.sandstream.config;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

import io.smallrye.config.WithDefault;

/**
 * {@code sandstream.security.*}: where secrets come from, who may deliver events, and how much any
 * one tenant or API key may ask for.
 */
public interface SecurityConfig {

    /** Event Grid's own application (client) id, the {@code appid}/{@code azp} of the tokens it sends. */
    String EVENT_GRID_APP_ID = "4962773b-9cdb-44cf-a8bf-237846a00ab7";

    /** How {@code POST /events} and {@code OPTIONS /events} are authenticated. */
    enum IngressAuth {
        /** Ingress keys only ({@code ?code=} or {@code aeg-sas-key}). */
        KEY,
        /** Entra ID bearer tokens only: keys are refused. */
        BEARER,
        /** Either a valid key or a valid bearer token. */
        KEY_OR_BEARER
    }

    /**
     * Ingress authentication. Default: {@code key}, or {@code key-or-bearer} when
     * {@code sandstream.security.entra.tenant-id} is set.
     */
    Optional<IngressAuth> ingressAuth();

    KeyVault keyVault();

    Entra entra();

    RateLimits rateLimits();

    /** Most request headers; a request with more is answered 431. */
    @WithDefault("64")
    int maxHeaders();

    /**
     * Serve {@code /q/metrics} without an API key (for a scraper on a private network). Default: an
     * API key ({@code Authorization: Bearer}) is required.
     */
    @WithDefault("false")
    boolean publicMetrics();

    /** Connection-level limits of the HTTP port, against slow (slowloris) and greedy clients. */
    Connections connections();

    interface Connections {
        /**
         * Longest wait for a request's whole header block, from the connection's opening or the
         * request's first byte; beyond it the server answers 408 and closes. {@code 0}: no limit.
         */
        @WithDefault("10s")
        Duration headerTimeout();

        /** Longest silence on a kept-alive connection between two requests before it is closed. {@code 0}: no limit. */
        @WithDefault("60s")
        Duration keepAliveTimeout();

        /**
         * Most connections open at once from one client IP address; the next is answered 429 and
         * closed. Behind a reverse proxy every connection comes from the proxy: raise it, or
         * {@code 0} for no limit.
         */
        @WithDefault("256")
        int maxPerAddress();
    }

    /** Azure Key Vault as the source of the service's secrets; used only when {@code url} is set. */
    interface KeyVault {
        /** Vault URL, e.g. {@code https://NAME.vault.azure.net}; reached with {@code DefaultAzureCredential}. */
        Optional<String> url();

        /** How often every secret is read again, so a rotated value takes effect without a restart. */
        @WithDefault("5m")
        Duration refresh();

        /** Longest wait for one read of one secret, the SDK's retries included. */
        @WithDefault("10s")
        Duration timeout();

        /** Secret with the ingress keys, comma- or newline-separated. Absent from the vault: config/env. */
        @WithDefault("ingress-keys")
        String ingressKeysSecret();

        /** Secret with the API keys, {@code KEY@SUBJECT_PREFIX} comma- or newline-separated. */
        @WithDefault("api-keys")
        String apiKeysSecret();

        /** Secret with the result store's storage connection string. */
        @WithDefault("storage-connection-string")
        String storageConnectionStringSecret();
    }

    /** Microsoft Entra ID bearer tokens on {@code /events} (Event Grid's secure webhook delivery). */
    interface Entra {
        /** Directory (tenant) id the tokens must be issued by (v1 or v2 issuer form). */
        Optional<String> tenantId();

        /** Accepted {@code aud} values: the webhook app's application id and/or application id URI. */
        Optional<List<String>> audiences();

        /** Signing keys; default {@code https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys}. */
        Optional<String> jwksUrl();

        /**
         * Callers ({@code appid} in v1 tokens, {@code azp} in v2) allowed; {@code *}: any. Default:
         * Event Grid's application.
         */
        @WithDefault(EVENT_GRID_APP_ID)
        List<String> allowedClientIds();

        /** App roles the token must all hold in {@code roles}, e.g. {@code AzureEventGridSecureWebhookSubscriber}. */
        Optional<List<String>> requiredRoles();

        /** Tolerance for {@code exp} and {@code nbf} against this host's clock. */
        @WithDefault("60s")
        Duration clockSkew();

        /** How long fetched signing keys are used when the key endpoint gives no cache lifetime. */
        @WithDefault("1h")
        Duration jwksCache();

        /**
         * Shortest time between two key fetches caused by an unknown {@code kid}, so that made-up
         * key ids cannot make us hammer the key endpoint.
         */
        @WithDefault("60s")
        Duration jwksMinRefetch();
    }

    /** Per-tenant limits on ingress and per-key limits on the APIs; refused work is answered 429 with Retry-After. */
    interface RateLimits {
        /**
         * Events per tenant: the routing tenant ({@code source}, or the first {@code subject} segment
         * with {@code sandstream.routing.tenant=subject}). The burst must hold the largest batch.
         */
        IngressLimit ingress();

        /** Requests per API key on the pool API and {@code POST /executions}. */
        ApiLimit api();

        /** Tenants and keys tracked at once; the least recently seen is forgotten first (its count restarts). */
        @WithDefault("100000")
        int maxTracked();
    }

    /** A token bucket and an optional quota. A rate of 0 turns the limit off. */
    interface Limit {
        /** Sustained rate, per second. */
        double rate();

        /** Most taken at once after a quiet period. */
        long burst();

        /** Most taken per {@code quota-period}, whatever the rate; none when absent. */
        Optional<Long> quota();

        Duration quotaPeriod();
    }

    interface IngressLimit extends Limit {
        @Override
        @WithDefault("2000")
        double rate();

        @Override
        @WithDefault("10000")
        long burst();

        @Override
        @WithDefault("1h")
        Duration quotaPeriod();
    }

    interface ApiLimit extends Limit {
        @Override
        @WithDefault("100")
        double rate();

        @Override
        @WithDefault("200")
        long burst();

        @Override
        @WithDefault("1h")
        Duration quotaPeriod();
    }
}
