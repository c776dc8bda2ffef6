package io.sandstream.problem;

/** The Azure error body of the dynamic-sessions data plane: {@code {"error":{"code","message"}}}. */
public record AzureError(Detail error) {

    public record Detail(String code, String message) {
    }
}
