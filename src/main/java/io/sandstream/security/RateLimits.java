package io.sandstream.security;

import java.util.Map;
import java.util.OptionalLong;

import jakarta.enterprise.context.ApplicationScoped;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.SecurityConfig;
import io.sandstream.problem.Problem;
import io.sandstream.problem.ProblemException;

/**
 * The rate limits and quotas: events per tenant on ingress, requests per API key on the pool API
 * and {@code POST /executions}. A refusal is a 429 with {@code Retry-After} in the caller's error
 * shape, counted in {@code sandstream_rate_limited_total{limiter}}.
 */
@ApplicationScoped
public class RateLimits {

    private final Limiter ingress;
    private final Limiter api;
    private final Counter ingressRefused;
    private final Counter apiRefused;

    public RateLimits(SandstreamConfig config, MeterRegistry registry) {
        SecurityConfig.RateLimits limits = config.security().rateLimits();
        this.ingress = new Limiter(limits.ingress(), limits.maxTracked());
        this.api = new Limiter(limits.api(), limits.maxTracked());
        if (ingress.enabled() && ingress.largestGrant() < config.ingress().maxBatchEvents()) {
            throw new IllegalStateException("sandstream.security.rate-limits.ingress.burst and .quota must be at least "
                    + "sandstream.ingress.max-batch-events (" + config.ingress().maxBatchEvents() + "): a full batch could never pass");
        }
        this.ingressRefused = refused(registry, "ingress");
        this.apiRefused = refused(registry, "api");
        Gauge.builder("sandstream.rate.limit.tracked", ingress, Limiter::tracked).tag("limiter", "ingress")
                .description("Tenants or API keys whose rate limit is being tracked").register(registry);
        Gauge.builder("sandstream.rate.limit.tracked", api, Limiter::tracked).tag("limiter", "api")
                .description("Tenants or API keys whose rate limit is being tracked").register(registry);
    }

    private static Counter refused(MeterRegistry registry, String limiter) {
        return Counter.builder("sandstream.rate.limited").tag("limiter", limiter)
                .description("Requests refused by a rate limit or quota").register(registry);
    }

    /** Takes {@code perTenant}'s events from each tenant's budget, all or nothing; else a 429 problem. */
    public void admitEvents(Map<String, Long> perTenant) {
        ingress.take(perTenant).ifPresent(retryAfter -> {
            ingressRefused.increment();
            throw new ProblemException(Problem.of(429, "rate-limited", "Rate limit exceeded",
                    "This tenant has sent more events than its rate limit or quota allows; nothing was accepted, retry later."),
                    Map.of("Retry-After", Long.toString(retryAfter)));
        });
    }

    /**
     * One pool-API request of the API key in {@code authorization} (already checked): empty when
     * admitted, else the seconds to wait (the caller answers in its own error shape).
     */
    public OptionalLong takePoolApiCall(String authorization) {
        OptionalLong refused = api.take(Map.of(keyOf(authorization), 1L));
        refused.ifPresent(retryAfter -> apiRefused.increment());
        return refused;
    }

    /** One submission of the API key in {@code authorization} (already checked) on {@code POST /executions}; else a 429 problem. */
    public void admitSubmission(String authorization) {
        api.take(Map.of(keyOf(authorization), 1L)).ifPresent(retryAfter -> {
            apiRefused.increment();
            throw new ProblemException(Problem.of(429, "rate-limited", "Rate limit exceeded",
                    "This API key has made more requests than its rate limit or quota allows; retry later."),
                    Map.of("Retry-After", Long.toString(retryAfter)));
        });
    }

    /** The key of a checked {@code Authorization: Bearer <key>} header, whatever the scheme's case. */
    private static String keyOf(String authorization) {
        return authorization.substring("Bearer ".length()).trim();
    }
}
