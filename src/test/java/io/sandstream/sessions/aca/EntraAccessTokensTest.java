package io.sandstream.sessions.aca;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;

import io.sandstream.sessions.BackendUnavailableException;
import io.smallrye.mutiny.Uni;
import reactor.core.publisher.Mono;

/**
 * Token caching and refresh at the azure-identity seam: a {@link TokenCredential} of our own
 * stands in for Entra ID and counts how often it is asked.
 */
class EntraAccessTokensTest {

    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Duration MARGIN = Duration.ofMinutes(5);

    /** A clock the test moves by hand. */
    private static final class ManualClock extends Clock {
        Instant now = Instant.parse("2025-01-01T00:00:00Z");

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }

    /** Answers each request with the next scripted answer: a token, a failure, or one completed later. */
    private static final class ScriptedCredential implements TokenCredential {
        final AtomicInteger calls = new AtomicInteger();
        final List<TokenRequestContext> requests = new CopyOnWriteArrayList<>();
        final List<Mono<AccessToken>> answers = new CopyOnWriteArrayList<>();

        @Override
        public Mono<AccessToken> getToken(TokenRequestContext request) {
            requests.add(request);
            return answers.get(calls.getAndIncrement());
        }
    }

    private final ManualClock clock = new ManualClock();
    private final ScriptedCredential credential = new ScriptedCredential();
    private final EntraAccessTokens tokens = new EntraAccessTokens(credential, "https://dynamicsessions.io/.default",
            MARGIN, clock);

    private AccessToken expiringIn(String token, Duration life) {
        return new AccessToken(token, clock.now.plus(life).atOffset(ZoneOffset.UTC));
    }

    private String token() {
        return tokens.token().await().atMost(WAIT);
    }

    @Test
    void aTokenIsReusedUntilTheMarginBeforeItExpiresThenRefreshed() {
        credential.answers.add(Mono.just(expiringIn("t1", Duration.ofHours(1))));
        credential.answers.add(Mono.just(expiringIn("t2", Duration.ofHours(2))));

        assertEquals("t1", token());
        assertEquals(List.of("https://dynamicsessions.io/.default"), credential.requests.get(0).getScopes());
        clock.now = clock.now.plus(Duration.ofMinutes(54));
        assertEquals("t1", token());
        assertEquals("t1", token());
        assertEquals(1, credential.calls.get(), "cached while more than the margin is left");

        clock.now = clock.now.plus(Duration.ofMinutes(2)); // 4 minutes left: inside the 5-minute margin
        assertEquals("t2", token());
        assertEquals(2, credential.calls.get());
        assertEquals("t2", token());
        assertEquals(2, credential.calls.get());
    }

    @Test
    void entrasOwnRefreshTimeIsHonoured() {
        Instant expires = clock.now.plus(Duration.ofHours(24));
        Instant refreshAt = clock.now.plus(Duration.ofHours(12));
        credential.answers.add(Mono.just(new AccessToken("long", expires.atOffset(ZoneOffset.UTC),
                refreshAt.atOffset(ZoneOffset.UTC))));
        credential.answers.add(Mono.just(expiringIn("renewed", Duration.ofHours(24))));
        assertEquals("long", token());
        clock.now = refreshAt.minusSeconds(1);
        assertEquals("long", token());
        clock.now = refreshAt.plusSeconds(1);
        assertEquals("renewed", token());
        assertEquals(2, credential.calls.get());
    }

    @Test
    void concurrentCallersShareOneRefresh() {
        CompletableFuture<AccessToken> pending = new CompletableFuture<>();
        credential.answers.add(Mono.fromFuture(pending));
        Uni<String> first = tokens.token();
        Uni<String> second = tokens.token();
        CompletableFuture<String> a = first.subscribeAsCompletionStage();
        CompletableFuture<String> b = second.subscribeAsCompletionStage();
        pending.complete(expiringIn("shared", Duration.ofHours(1)));
        assertEquals("shared", a.join());
        assertEquals("shared", b.join());
        assertEquals(1, credential.calls.get());
    }

    @Test
    void aFailedRefreshKeepsAStillValidTokenAndOtherwiseIsABackendOutage() {
        credential.answers.add(Mono.just(expiringIn("t1", Duration.ofMinutes(10))));
        credential.answers.add(Mono.error(new IllegalStateException("IMDS did not answer")));
        credential.answers.add(Mono.error(new IllegalStateException("IMDS did not answer")));
        assertEquals("t1", token());

        clock.now = clock.now.plus(Duration.ofMinutes(6)); // inside the margin, not expired
        assertEquals("t1", token(), "the old token serves while Entra is unreachable");
        assertEquals(2, credential.calls.get());

        clock.now = clock.now.plus(Duration.ofMinutes(5)); // expired
        RuntimeException failure = assertThrows(RuntimeException.class, this::token);
        BackendUnavailableException unavailable = assertInstanceOf(BackendUnavailableException.class, failure);
        assertEquals(true, unavailable.getMessage().contains("IMDS did not answer"), unavailable.getMessage());
        assertEquals(3, credential.calls.get());
    }

    @Test
    void aRefusedTokenIsNotUsedAgain() {
        credential.answers.add(Mono.just(expiringIn("revoked", Duration.ofHours(1))));
        credential.answers.add(Mono.just(expiringIn("fresh", Duration.ofHours(1))));
        assertEquals("revoked", token());
        tokens.invalidate();
        assertEquals("fresh", token());
        assertEquals(2, credential.calls.get());
    }
}
