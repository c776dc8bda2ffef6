package io.sandstream.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;

import org.junit.jupiter.api.Test;

import io.sandstream.config.SecurityConfig;
import io.sandstream.config.TestConfigs;

/** The token buckets behind the rate limits: burst, all-or-nothing across tenants, quota, Retry-After. */
class LimiterTest {

    static SecurityConfig.Limit ingress(Map<String, String> properties) {
        return TestConfigs.sandstream(properties).security().rateLimits().ingress();
    }

    static Limiter limiter(String rate, String burst) {
        return new Limiter(ingress(Map.of("sandstream.security.rate-limits.ingress.rate", rate,
                "sandstream.security.rate-limits.ingress.burst", burst)), 1000);
    }

    @Test
    void theBurstIsGrantedThenRefusedWithAWait() {
        Limiter limiter = limiter("0.01", "5"); // one token per 100 s
        assertTrue(limiter.take(Map.of("a", 5L)).isEmpty());
        OptionalLong refused = limiter.take(Map.of("a", 1L));
        assertTrue(refused.isPresent());
        assertTrue(refused.getAsLong() >= 1 && refused.getAsLong() <= 100, "wait for one token: " + refused.getAsLong());
        assertTrue(limiter.take(Map.of("b", 5L)).isEmpty(), "another tenant has its own bucket");
    }

    @Test
    void aRequestIsAllOrNothingAcrossTenants() {
        Limiter limiter = limiter("0.01", "5");
        assertTrue(limiter.take(Map.of("full", 5L)).isEmpty());
        Map<String, Long> mixed = new LinkedHashMap<>();
        mixed.put("fresh", 4L);
        mixed.put("full", 1L);
        assertTrue(limiter.take(mixed).isPresent());
        assertTrue(limiter.take(Map.of("fresh", 5L)).isEmpty(), "what the refused request took was given back");
    }

    @Test
    void aQuotaHoldsWhateverTheRate() {
        Limiter limiter = new Limiter(ingress(Map.of("sandstream.security.rate-limits.ingress.rate", "0",
                "sandstream.security.rate-limits.ingress.quota", "3",
                "sandstream.security.rate-limits.ingress.quota-period", "1h")), 1000);
        assertTrue(limiter.enabled());
        assertEquals(3, limiter.largestGrant());
        for (int i = 0; i < 3; i++) {
            assertTrue(limiter.take(Map.of("t", 1L)).isEmpty());
        }
        OptionalLong refused = limiter.take(Map.of("t", 1L));
        assertTrue(refused.isPresent() && refused.getAsLong() > 60 && refused.getAsLong() <= 3600, "until the period ends");
    }

    @Test
    void aZeroRateWithoutQuotaIsOff() {
        Limiter limiter = limiter("0", "1");
        assertFalse(limiter.enabled());
        assertTrue(limiter.take(Map.of("t", 1_000_000L)).isEmpty());
    }

    @Test
    void nonsenseLimitsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> limiter("-1", "5"));
        assertThrows(IllegalArgumentException.class, () -> limiter("10", "0"));
    }
}
