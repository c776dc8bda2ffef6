package io.sandstream.sessions;

import java.time.Instant;

/** An allocated session, for listings. */
public record SessionInfo(String identifier, Instant createdAt, Instant lastUsedAt, Instant expiresAt, boolean busy) {
}
