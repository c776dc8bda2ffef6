package io.sandstream.wiring;

import io.quarkus.runtime.annotations.RegisterForReflection;
import io.sandstream.ingress.IngressResponse;
import io.sandstream.kafka.AcceptedIndex;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.ResultDocument;
import io.sandstream.poolapi.LegacyResponses;
import io.sandstream.poolapi.ResourceResponses;
import io.sandstream.poolapi.RuntimeMetadata;
import io.sandstream.problem.AzureError;
import io.sandstream.problem.Problem;

/**
 * What a native image must keep for Jackson: every type the service writes as JSON. Quarkus REST
 * registers the declared entity types of resource methods by itself, but most of ours return a
 * {@code Response}, and results are also written and read by our own {@code ObjectMapper}s
 * (SQLite, blobs, SSE, outbound events), which Quarkus cannot see. {@code NativeReflectionTest}
 * fails when a type carrying Jackson annotations, or a record reachable from one listed here, is
 * missing. Request bodies are read as {@code JsonNode} trees and need nothing.
 */
@RegisterForReflection(registerFullHierarchy = true, targets = {
        ResultDocument.class, ResultDocument.Error.class, ResultDocument.Timings.class, io.sandstream.model.Output.class, ExecutionStatus.class,
        Problem.class, Problem.FieldError.class,
        IngressResponse.class, IngressResponse.Accepted.class, IngressResponse.Rejected.class,
        AzureError.class, AzureError.Detail.class,
        LegacyResponses.Execution.class, LegacyResponses.ExecutionProperties.class, LegacyResponses.FileList.class,
        LegacyResponses.FileEntry.class, LegacyResponses.FileProperties.class,
        ResourceResponses.Execution.class, ResourceResponses.Output.class, ResourceResponses.FileMetadata.class,
        ResourceResponses.FileList.class, ResourceResponses.Session.class, ResourceResponses.SessionList.class,
        ResourceResponses.Status.class,
        RuntimeMetadata.Metadata.class, RuntimeMetadata.Runtime.class, RuntimeMetadata.Package.class,
        AcceptedIndex.Accepted.class,
})
final class NativeReflection {

    private NativeReflection() {
    }
}
