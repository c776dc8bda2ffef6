package io.sandstream.edge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.sandstream.config.TestConfigs;

class HopTokenTest {

    private static final String TARGET = "/pools/python/code/execute?api-version=2024-02-02-preview&identifier=s1";
    private final Clock now = Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC);
    private final HopToken token = new HopToken("secret".getBytes(StandardCharsets.UTF_8), now);

    @Test
    void aMarkIsGoodForItsOwnCallForAMinuteOnly() {
        String mark = token.sign("POST", TARGET);
        assertTrue(token.valid(mark, "POST", TARGET));
        assertFalse(token.valid(mark, "GET", TARGET), "another method");
        assertFalse(token.valid(mark, "POST", TARGET.replace("s1", "s2")), "another session");
        assertFalse(new HopToken("other".getBytes(StandardCharsets.UTF_8), now).valid(mark, "POST", TARGET), "another secret");
        HopToken later = new HopToken("secret".getBytes(StandardCharsets.UTF_8), Clock.offset(now, java.time.Duration.ofSeconds(61)));
        assertFalse(later.valid(mark, "POST", TARGET), "expired");
        for (String forged : new String[] { null, "", "x", "9999999999.AAAA", mark.substring(0, mark.length() - 1) + "A",
                (Long.parseLong(mark.substring(0, mark.indexOf('.'))) + 1) + mark.substring(mark.indexOf('.')) }) {
            assertFalse(token.valid(forged, "POST", TARGET), String.valueOf(forged));
        }
    }

    @Test
    void theDefaultSecretIsTheSameForInstancesWithTheSameKeysInAnyOrder() {
        byte[] one = HopToken.secret(TestConfigs.sandstream(Map.of("sandstream.api-keys", "k1@*,k2@t")));
        byte[] two = HopToken.secret(TestConfigs.sandstream(Map.of("sandstream.api-keys", "k2@t,k1@*")));
        assertArrayEquals(one, two);
        assertNotEquals(new String(one, StandardCharsets.ISO_8859_1), new String(HopToken.secret(TestConfigs.sandstream(
                Map.of("sandstream.api-keys", "k3@*"))), StandardCharsets.ISO_8859_1));
        assertArrayEquals("given".getBytes(StandardCharsets.UTF_8), HopToken.secret(TestConfigs.sandstream(
                Map.of("sandstream.api-keys", "k1@*", "sandstream.cluster.secret", "given"))));
    }
}
