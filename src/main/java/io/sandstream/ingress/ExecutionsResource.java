package io.sandstream.ingress;

import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.sandstream.model.ExecutionStatus;
import io.sandstream.problem.Problem;
import io.sandstream.problem.ProblemException;
import io.sandstream.results.ResultBus;
import io.sandstream.results.StoredResult;
import io.sandstream.security.ApiKeys;
import io.sandstream.security.RateLimits;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.validation.StrictUtf8;
import io.smallrye.mutiny.Uni;

/**
 * {@code POST /executions}: code submitted directly with an API key, wrapped in a CloudEvent and
 * sent down the same path as {@code /events} ({@link IngressService}). With {@code ?wait=N} the
 * answer waits up to N seconds for the result. Reading executions back is the streaming package's.
 */
@Path("/executions")
@Produces(MediaType.APPLICATION_JSON)
public class ExecutionsResource {

    static final String SOURCE = "/executions";
    private static final int MAX_WAIT_SECONDS = 220;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ApiKeys keys;
    private final ApiSubmissions submissions;
    private final ResultBus bus;
    private final RateLimits limits;

    public ExecutionsResource(ApiKeys keys, ApiSubmissions submissions, ResultBus bus, RateLimits limits) {
        this.keys = keys;
        this.submissions = submissions;
        this.bus = bus;
        this.limits = limits;
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Uni<Response> submit(byte[] bytes, @HeaderParam("Authorization") String authorization,
            @QueryParam("wait") Integer wait) {
        KeyScope scope = keys.require(authorization);
        limits.admitSubmission(authorization);
        if (wait != null && (wait < 0 || wait > MAX_WAIT_SECONDS)) {
            throw ProblemException.badRequest("wait must be 0 to " + MAX_WAIT_SECONDS + " seconds.",
                    List.of(new Problem.FieldError("/wait", "must be 0 to " + MAX_WAIT_SECONDS)));
        }
        JsonNode body = json(bytes);
        if (body == null || !body.isObject()) {
            throw ProblemException.badRequest("The body must be a JSON object with at least 'code'.",
                    List.of(new Problem.FieldError("", "must be a JSON object")));
        }
        ApiSubmissions.Submission submission = submissions.prepare((ObjectNode) body, scope, SOURCE);
        String executionId = submission.executionId();
        // Deferred: the waiter is registered before the work is journalled, so a fast result cannot be missed.
        Uni<IngressResponse> ingest = Uni.createFrom()
                .deferred(() -> submissions.ingest(submission, scope, IngressService.Endpoint.EXECUTIONS));
        Uni<StoredResult> answer = wait != null && wait > 0 ? bus.nextAfter(ingest, executionId, Duration.ofSeconds(wait))
                : ingest.replaceWith((StoredResult) null);
        return answer.map(result -> result != null ? Response.ok(result.document()).build()
                        : Response.accepted(Map.of("executionId", executionId, "status", ExecutionStatus.Queued))
                                .location(URI.create("/executions/" + executionId)).build());
    }

    /** The body as JSON, read only once it is known to be valid UTF-8; null when there is none. */
    private static JsonNode json(byte[] body) {
        if (body == null || body.length == 0) {
            return null;
        }
        StrictUtf8.requireJson(body);
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new ProblemException(Problem.of(400, "malformed-json", "Malformed JSON", "The body is not valid JSON."));
        }
    }
}
