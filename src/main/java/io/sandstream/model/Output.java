package io.sandstream.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * One rich output of an execution, as a Jupyter notebook shows it: a MIME type ({@code image/png},
 * {@code text/html}, {@code text/plain}, {@code application/json}, …) and its data (base64 text for
 * binary images, a JSON value for {@code application/json}, else text). A store that keeps large
 * outputs apart replaces {@code data} by {@code href}, where the data can be read.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Output(String type, JsonNode data, String href) {

    public static Output of(String type, JsonNode data) {
        return new Output(type, data, null);
    }

    /** Bytes the output counts against the execution's output cap: its data's text. */
    public long size() {
        if (data == null) {
            return 0;
        }
        return data.isTextual() ? data.textValue().length() : data.toString().length();
    }
}
