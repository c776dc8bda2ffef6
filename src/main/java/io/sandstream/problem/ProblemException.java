package io.sandstream.problem;

import java.util.List;
import java.util.Map;

/** Ends a request with a problem document; thrown by any stage, mapped in {@link ProblemMappers}. */
public class ProblemException extends RuntimeException {

    private final Problem problem;
    private final Map<String, String> headers;

    public ProblemException(Problem problem) {
        this(problem, Map.of());
    }

    public ProblemException(Problem problem, Map<String, String> headers) {
        super(problem.detail(), null, false, false);
        this.problem = problem;
        this.headers = headers;
    }

    public Problem problem() {
        return problem;
    }

    public Map<String, String> headers() {
        return headers;
    }

    public static ProblemException badRequest(String detail, List<Problem.FieldError> errors) {
        return new ProblemException(Problem.of(400, "invalid-request", "Invalid request", detail).withErrors(errors));
    }

    public static ProblemException unauthorized(String detail) {
        return new ProblemException(Problem.of(401, "unauthorized", "Unauthorized", detail));
    }

    public static ProblemException tooLarge(String detail) {
        return new ProblemException(Problem.of(413, "too-large", "Payload too large", detail));
    }

    public static ProblemException unsupportedMediaType(String detail) {
        return new ProblemException(Problem.of(415, "unsupported-media-type", "Unsupported media type", detail));
    }

    public static ProblemException tooManyRequests(String detail, int retryAfterSeconds) {
        return new ProblemException(Problem.of(429, "backpressure", "Too many pending executions", detail),
                Map.of("Retry-After", Integer.toString(retryAfterSeconds)));
    }

    public static ProblemException unavailable(String detail, int retryAfterSeconds) {
        return new ProblemException(Problem.of(503, "unavailable", "Temporarily unavailable", detail),
                Map.of("Retry-After", Integer.toString(retryAfterSeconds)));
    }
}
