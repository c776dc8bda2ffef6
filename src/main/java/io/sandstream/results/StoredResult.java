package io.sandstream.results;

import io.sandstream.model.ResultDocument;

/** A persisted result and its position in the store's stream ({@code id:} of SSE events). */
public record StoredResult(long sequence, ResultDocument document) {
}
