package io.sandstream.ingress;

import java.net.URI;
import java.util.List;
import java.util.UUID;

import jakarta.enterprise.context.ApplicationScoped;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.cloudevents.CloudEvent;
import io.cloudevents.core.builder.CloudEventBuilder;
import io.cloudevents.jackson.JsonCloudEventData;
import io.sandstream.model.ExecutionIds;
import io.sandstream.problem.Problem;
import io.sandstream.problem.ProblemException;
import io.sandstream.tenancy.KeyScope;
import io.smallrye.mutiny.Uni;

/**
 * Code submitted with an API key ({@code POST /executions}, the MCP server's {@code run_code}):
 * the request's fields wrapped in an execute CloudEvent and sent down the one path of
 * {@code /events} ({@link IngressService}), so it is validated, journalled, routed and stored like
 * any other event. Prepared first, so that a caller can subscribe to the result before the work is
 * journalled and a fast result cannot be missed.
 */
@ApplicationScoped
public class ApiSubmissions {

    private final IngressService ingress;

    public ApiSubmissions(IngressService ingress) {
        this.ingress = ingress;
    }

    /** An execute event ready to be ingested, and the execution it becomes. */
    public record Submission(String executionId, CloudEvent event) {
    }

    /**
     * The event for {@code fields} (the execute event's {@code data}; a {@code subject} field is
     * taken out as the event's subject, else the key's default); a {@link ProblemException} 403
     * when the subject is outside the key's scope.
     */
    public Submission prepare(ObjectNode fields, KeyScope scope, String source) {
        ObjectNode data = fields.deepCopy();
        JsonNode subjectNode = data.remove("subject");
        String subject = subjectNode != null && subjectNode.isTextual() ? subjectNode.textValue() : scope.defaultSubject();
        if (!scope.covers(subject)) {
            throw new ProblemException(Problem.of(403, "forbidden-subject", "Subject outside the key's scope",
                    "This API key may not submit work under subject '" + subject + "'."));
        }
        CloudEventBuilder event = CloudEventBuilder.v1().withId(UUID.randomUUID().toString()).withSource(URI.create(source))
                .withType("io.sandstream.code.execute").withData("application/json", JsonCloudEventData.wrap(data));
        if (subject != null) {
            event.withSubject(subject);
        }
        CloudEvent built = event.build();
        return new Submission(ExecutionIds.of(source, built.getId()), built);
    }

    /** Admits and journals the submission; fails with a {@link ProblemException} for 400/403/429/503. */
    public Uni<IngressResponse> ingest(Submission submission, KeyScope scope, IngressService.Endpoint endpoint) {
        var request = new DecodedRequest.Events(List.of(new IncomingEvent.Parsed(0, submission.event())), false);
        return ingress.ingest(request, scope, endpoint);
    }
}
