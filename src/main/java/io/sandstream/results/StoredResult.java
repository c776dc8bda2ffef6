package io.sandstream.results;

/** A persisted result and its position in the store's stream ({@code id:} of SSE events). */
public record StoredResult(long sequence, ResultDocument document) {
}
