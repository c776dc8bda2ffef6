package io.sandstream.model;

import java.util.List;
import java.util.Optional;


/**
 * A validated request to run code: the {@code data} of an execute event, or the body of
 * {@code POST /executions}.
 *
 * @param sessionId the stateful session to run in; empty means a fresh session discarded afterwards
 * @param priority the priority the request asked for itself; empty leaves it to routing
 */
public record ExecuteRequest(String code, Language language, Optional<String> sessionId, int timeoutSeconds,
        Optional<Priority> priority, List<InputFile> files) {

    /** A file placed in {@code /mnt/data} before the code runs. */
    public record InputFile(String name, byte[] content) {
    }
}
