package io.sandstream.sessions;

import java.time.Instant;

/** An allocated session, for listings. */
public record SessionInfo(SessionKey key, Instant createdAt, Instant lastUsedAt, Instant expiresAt, boolean busy) {

    public String identifier() {
        return key.identifier();
    }
}
