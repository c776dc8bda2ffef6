package io.sandstream.problem;

import java.util.Map;

import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;

import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import com.fasterxml.jackson.core.JsonProcessingException;

/**
 * The one place where failures become HTTP answers, in the shape {@link ErrorShapes} picks for the
 * request's path: problem JSON, or Azure's error body under {@code /pools/}. No stack trace or
 * exception message of an unexpected failure ever reaches the client.
 */
public class ProblemMappers {

    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);

    @ServerExceptionMapper
    public Response problem(ProblemException e, UriInfo uri) {
        return toResponse(path(uri), e.problem(), e.headers());
    }

    @ServerExceptionMapper
    public Response json(JsonProcessingException e, UriInfo uri) {
        return toResponse(path(uri), Problem.of(400, "malformed-json", "Malformed JSON", "The body is not valid JSON."),
                Map.of());
    }

    /** The framework's refusals: unknown path (404), wrong method (405), media type (415), size (413), … */
    @ServerExceptionMapper
    public Response web(WebApplicationException e, UriInfo uri) {
        int status = e.getResponse().getStatus();
        String title = Response.Status.fromStatusCode(status) != null
                ? Response.Status.fromStatusCode(status).getReasonPhrase()
                : "HTTP " + status;
        if (status >= 500) {
            LOG.errorf(e, "request failed with %d", status);
            title = "Internal error";
        }
        Map<String, String> headers = status == 405 && e.getResponse().getHeaderString("Allow") != null
                ? Map.of("Allow", e.getResponse().getHeaderString("Allow"))
                : Map.of();
        return toResponse(path(uri), Problem.of(status, "http-" + status, title, title + "."), headers);
    }

    @ServerExceptionMapper
    public Response unexpected(Throwable e, UriInfo uri) {
        return unexpected(e, path(uri));
    }

    /** An unexpected failure of a request to {@code path}: logged, answered 500 without its message. */
    public static Response unexpected(Throwable e, String path) {
        LOG.error("unexpected failure while serving a request", e);
        return toResponse(path, Problem.of(500, "internal", "Internal error",
                "The service failed to handle this request; it has been logged."), Map.of());
    }

    public static Response toResponse(String path, Problem problem, Map<String, String> headers) {
        return ErrorShapes.response(ErrorShapes.render(path, problem, headers));
    }

    private static String path(UriInfo uri) {
        try {
            return uri == null ? null : uri.getRequestUri().getRawPath();
        } catch (RuntimeException e) {
            return null;
        }
    }
}
