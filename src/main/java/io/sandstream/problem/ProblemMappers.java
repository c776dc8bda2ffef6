package io.sandstream.problem;

import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;

import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import com.fasterxml.jackson.core.JsonProcessingException;

/**
 * The one place where failures become HTTP answers. Every error leaves as problem JSON, and no
 * stack trace or exception message of an unexpected failure ever reaches the client.
 */
public class ProblemMappers {

    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);

    @ServerExceptionMapper
    public Response problem(ProblemException e) {
        return toResponse(e.problem(), e);
    }

    @ServerExceptionMapper
    public Response json(JsonProcessingException e) {
        return toResponse(Problem.of(400, "malformed-json", "Malformed JSON", "The body is not valid JSON."), null);
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e) {
        int status = e.getResponse().getStatus();
        String title = Response.Status.fromStatusCode(status) != null
                ? Response.Status.fromStatusCode(status).getReasonPhrase()
                : "HTTP " + status;
        if (status >= 500) {
            LOG.errorf(e, "request failed with %d", status);
            title = "Internal error";
        }
        return toResponse(Problem.of(status, "http-" + status, title, title + "."), null);
    }

    @ServerExceptionMapper
    public Response unexpected(Throwable e) {
        LOG.error("unexpected failure while serving a request", e);
        return toResponse(Problem.of(500, "internal", "Internal error",
                "The service failed to handle this request; it has been logged."), null);
    }

    public static Response toResponse(Problem problem, ProblemException source) {
        Response.ResponseBuilder builder = Response.status(problem.status()).type(Problem.MEDIA_TYPE).entity(problem);
        if (source != null) {
            source.headers().forEach(builder::header);
        }
        return builder.build();
    }
}
