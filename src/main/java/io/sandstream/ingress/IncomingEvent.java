package io.sandstream.ingress;

import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

import io.cloudevents.CloudEvent;
import io.sandstream.problem.Problem.FieldError;

/** One event of a request after decoding: a well-formed CloudEvent, or what could be read of a broken one. */
public sealed interface IncomingEvent {

    /** Index of the event in its request (0 for a single event), used in error pointers. */
    int index();

    record Parsed(int index, CloudEvent event) implements IncomingEvent {
    }

    /**
     * An event that is not a valid CloudEvent / Event Grid event. {@code id} and {@code source} are
     * whatever the sender put there (possibly null); {@code raw} is its JSON, kept with the rejection;
     * {@code data} its {@code data} member if it had a JSON one, so that its errors can be listed too.
     */
    record Malformed(int index, String id, String source, String type, String subject, byte[] raw, JsonNode data,
            List<FieldError> errors) implements IncomingEvent {
    }
}
