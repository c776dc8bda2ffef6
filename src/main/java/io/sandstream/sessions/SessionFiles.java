package io.sandstream.sessions;

import java.util.List;

/**
 * A listing of a session's {@code /mnt/data}, by name.
 *
 * @param truncated true when the session holds more files than one listing answers (the pool's cap)
 */
public record SessionFiles(List<SessionFile> files, boolean truncated) {
}
