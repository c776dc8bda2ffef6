package io.sandstream.security;

import java.time.Duration;
import java.util.Map;
import java.util.OptionalLong;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.sandstream.config.SecurityConfig;

/**
 * One limit applied per name (a tenant, an API key): a Bucket4j token bucket per name, with the
 * sustained rate, the burst and the optional quota as its bandwidths. Buckets live in a bounded
 * Caffeine cache: a name not seen for a while, or pushed out by many others, starts afresh.
 */
final class Limiter {

    /** Greedy refill of {@code rate} per second, expressed in whole tokens over a longer period. */
    private static final Duration RATE_PERIOD = Duration.ofSeconds(1000);

    private final SecurityConfig.Limit limit;
    private final Cache<String, Bucket> buckets;

    Limiter(SecurityConfig.Limit limit, int maxTracked) {
        this.limit = limit;
        if (limit.rate() < 0 || (limit.rate() > 0 && limit.burst() < 1) || limit.quota().filter(q -> q < 1).isPresent()) {
            throw new IllegalArgumentException("rate must be at least 0, burst and quota at least 1");
        }
        // Forgotten after the bucket would have refilled completely anyway (and at least one quota period).
        Duration idle = Duration.ofSeconds(Math.max(60, (long) Math.ceil(limit.burst() / Math.max(limit.rate(), 1e-3))));
        if (limit.quota().isPresent() && limit.quotaPeriod().compareTo(idle) > 0) {
            idle = limit.quotaPeriod();
        }
        this.buckets = Caffeine.newBuilder().maximumSize(maxTracked).expireAfterAccess(idle).executor(Runnable::run).build();
    }

    boolean enabled() {
        return limit.rate() > 0 || limit.quota().isPresent();
    }

    /** Most a single request may ask for: more could never be granted. */
    long largestGrant() {
        long most = limit.rate() > 0 ? limit.burst() : Long.MAX_VALUE;
        return Math.min(most, limit.quota().orElse(Long.MAX_VALUE));
    }

    /**
     * Takes {@code amounts} from each name's bucket, all or nothing. Empty when granted; else the
     * seconds to wait before the refused name has enough again.
     */
    OptionalLong take(Map<String, Long> amounts) {
        if (!enabled()) {
            return OptionalLong.empty();
        }
        Map<Bucket, Long> taken = new java.util.IdentityHashMap<>();
        for (Map.Entry<String, Long> amount : amounts.entrySet()) {
            Bucket bucket = buckets.get(amount.getKey(), name -> newBucket());
            ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(amount.getValue());
            if (!probe.isConsumed()) {
                taken.forEach(Bucket::addTokens); // give back what the other names of this request took
                return OptionalLong.of(retryAfterSeconds(probe.getNanosToWaitForRefill()));
            }
            taken.merge(bucket, amount.getValue(), Long::sum);
        }
        return OptionalLong.empty();
    }

    long tracked() {
        return buckets.estimatedSize();
    }

    private Bucket newBucket() {
        var builder = Bucket.builder();
        if (limit.rate() > 0) {
            long perPeriod = Math.max(1, Math.round(limit.rate() * RATE_PERIOD.toSeconds()));
            builder.addLimit(Bandwidth.builder().capacity(limit.burst()).refillGreedy(perPeriod, RATE_PERIOD).build());
        }
        limit.quota().ifPresent(quota -> builder.addLimit(
                Bandwidth.builder().capacity(quota).refillIntervally(quota, limit.quotaPeriod()).build()));
        return builder.build();
    }

    private static long retryAfterSeconds(long nanos) {
        if (nanos <= 0 || nanos == Long.MAX_VALUE) {
            return 1;
        }
        return Math.max(1, (nanos + 999_999_999L) / 1_000_000_000L);
    }
}
