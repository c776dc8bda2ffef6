package io.sandstream.ingress;

import java.util.List;

/** What a {@code POST /events} body turned out to be. */
public sealed interface DecodedRequest {

    /** Event Grid's subscription validation handshake: answer with the code. */
    record ValidationHandshake(String validationCode) implements DecodedRequest {
    }

    /** Events to admit. {@code batch} is false only for a request that can hold exactly one event. */
    record Events(List<IncomingEvent> events, boolean batch) implements DecodedRequest {
    }
}
