package io.sandstream.sessions;

import java.time.Instant;

/** A regular file in a session's {@code /mnt/data}. */
public record SessionFile(String name, long size, Instant lastModified) {
}
