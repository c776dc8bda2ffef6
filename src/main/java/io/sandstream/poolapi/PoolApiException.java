package io.sandstream.poolapi;

import java.util.Map;

/**
 * Ends a pool API request with an Azure error body; mapped in {@link PoolApiErrors}. The pool API
 * speaks the dynamic-sessions error shape, not problem JSON, because its clients parse that one.
 */
public class PoolApiException extends RuntimeException {

    private final int status;
    private final String code;
    private final Map<String, String> headers;

    public PoolApiException(int status, String code, String message) {
        this(status, code, message, Map.of());
    }

    public PoolApiException(int status, String code, String message, Map<String, String> headers) {
        super(message, null, false, false);
        this.status = status;
        this.code = code;
        this.headers = headers;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public Map<String, String> headers() {
        return headers;
    }

    public static PoolApiException badRequest(String code, String message) {
        return new PoolApiException(400, code, message);
    }

    public static PoolApiException unauthorized() {
        return new PoolApiException(401, "Unauthorized", "Send a valid API key as Authorization: Bearer <key>.",
                Map.of("WWW-Authenticate", "Bearer"));
    }
}
