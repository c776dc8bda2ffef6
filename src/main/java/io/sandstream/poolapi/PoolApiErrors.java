package io.sandstream.poolapi;

import java.io.IOException;
import java.util.Map;

import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;

import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;
import org.jboss.resteasy.reactive.server.core.multipart.MultipartParser;

import io.sandstream.problem.ErrorShapes;
import io.sandstream.problem.ProblemMappers;
import io.sandstream.sessions.BackendUnavailableException;
import io.sandstream.sessions.PoolFullException;
import io.sandstream.sessions.SessionFileException;
import io.sandstream.tenancy.QuotaExceededException;

/**
 * Where pool API failures become HTTP answers: the Azure error body plus the
 * {@code x-ms-error-code} header Azure SDKs read, rendered by {@link ErrorShapes} (which also shapes
 * the framework's own errors under {@code /pools/}). Pool failures are translated here too, so a
 * client's mistake is never a 5xx and an unexpected failure never leaks its message.
 */
public class PoolApiErrors {

    private static final Logger LOG = Logger.getLogger(PoolApiErrors.class);
    /** How long a client should wait before retrying a full pool, seconds: sessions free up as code ends. */
    static final int POOL_FULL_RETRY_AFTER_SECONDS = 2;

    @ServerExceptionMapper
    public Response map(PoolApiException e) {
        return ErrorShapes.response(ErrorShapes.azure(e.status(), e.code(), e.getMessage(), e.headers()));
    }

    /**
     * A multipart body the parser refuses (truncated, a header line broken by CR/LF in a file
     * name): the client's mistake. Only the pool API takes multipart bodies.
     */
    @ServerExceptionMapper
    public Response malformedMultipart(MultipartParser.MalformedMessageException e) {
        return map(PoolApiException.badRequest("InvalidRequestBody", "The multipart body is malformed."));
    }

    /** The parser's answer to a multipart body that ends before its closing boundary; any other I/O failure is ours. */
    @ServerExceptionMapper
    public Response unreadableBody(IOException e, HttpHeaders headers, UriInfo uri) {
        if (MediaType.MULTIPART_FORM_DATA_TYPE.isCompatible(headers.getMediaType())) {
            return map(PoolApiException.badRequest("InvalidRequestBody", "The multipart body ends before its closing boundary."));
        }
        return ProblemMappers.unexpected(e, uri.getRequestUri().getRawPath());
    }

    /** A failure of the session pool as the error the client sees. */
    static PoolApiException translate(Throwable failure) {
        if (failure instanceof PoolApiException known) {
            return known;
        }
        if (failure instanceof PoolFullException) {
            return new PoolApiException(429, "SessionPoolFull",
                    "Every session of this pool is in use; retry later.",
                    Map.of("Retry-After", Integer.toString(POOL_FULL_RETRY_AFTER_SECONDS)));
        }
        if (failure instanceof QuotaExceededException quota) {
            return new PoolApiException(429, quota.code(), quota.getMessage() + "; retry later.",
                    Map.of("Retry-After", Integer.toString(quota.retryAfterSeconds())));
        }
        if (failure instanceof BackendUnavailableException) {
            // An ACA pool whose endpoint is failing: the client may well succeed later.
            return new PoolApiException(503, "ServiceUnavailable", "The pool's backend is unavailable; retry later.",
                    Map.of("Retry-After", Integer.toString(POOL_FULL_RETRY_AFTER_SECONDS)));
        }
        if (failure instanceof UnsupportedOperationException unsupported) {
            return PoolApiException.badRequest("UnsupportedOperation", unsupported.getMessage());
        }
        if (failure instanceof SessionFileException file) {
            return switch (file.reason()) {
                case NOT_FOUND -> new PoolApiException(404, "FileNotFound", "No such file in the session.");
                case INVALID -> PoolApiException.badRequest("InvalidFileName", "The file name is not valid.");
                case TOO_LARGE -> new PoolApiException(413, "FileTooLarge", file.getMessage());
                // The sandbox refused the write (its disk is full, say): caused by what the client sent.
                case FAILED -> PoolApiException.badRequest("FileOperationFailed", "The file operation failed in the session.");
                // What the session holds made it hang (the service ended the session): not a service failure.
                case TIMED_OUT -> new PoolApiException(409, "FileOperationTimedOut", file.getMessage());
            };
        }
        LOG.error("pool API request failed", failure);
        return new PoolApiException(500, "InternalServerError", "The service failed to handle this request; it has been logged.");
    }
}
