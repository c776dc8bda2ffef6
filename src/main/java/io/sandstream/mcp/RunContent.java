package io.sandstream.mcp;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

import io.modelcontextprotocol.spec.McpSchema;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Output;
import io.sandstream.model.ResultDocument;

/**
 * A result document as an MCP tool result, the way a model reads a notebook cell: stdout, stderr
 * and the value as text, figures as {@code image} content (PNG), HTML (a DataFrame's table) as an
 * embedded resource, and a last line naming the execution. Anything but success is
 * {@code isError: true} with the error and its traceback, never a protocol error.
 */
final class RunContent {

    private RunContent() {
    }

    static McpSchema.CallToolResult of(ResultDocument doc) {
        List<McpSchema.Content> content = new ArrayList<>();
        if (!doc.stdout().isEmpty()) {
            content.add(new McpSchema.TextContent(doc.stdout()));
        }
        if (!doc.stderr().isEmpty()) {
            content.add(new McpSchema.TextContent("stderr:\n" + doc.stderr()));
        }
        if (doc.result() != null && !doc.result().isNull()) {
            content.add(new McpSchema.TextContent("result: " + text(doc.result())));
        }
        int index = 0;
        for (Output output : doc.outputs()) {
            McpSchema.Content item = output(doc.executionId(), index++, output);
            if (item != null) {
                content.add(item);
            }
        }
        boolean failed = doc.status() != ExecutionStatus.Succeeded;
        if (failed && doc.error() != null && (doc.error().message() == null || !doc.stderr().contains(doc.error().message()))) {
            content.add(new McpSchema.TextContent(doc.error().type() + ": " + doc.error().message()));
        }
        StringBuilder summary = new StringBuilder("[execution ").append(doc.executionId()).append(": ").append(doc.status());
        if (doc.limitHit() != null) {
            summary.append(", limit hit: ").append(doc.limitHit());
        }
        if (doc.truncated()) {
            summary.append(", output truncated");
        }
        if (doc.sessionId() != null) {
            summary.append(", session ").append(doc.sessionId());
        }
        content.add(new McpSchema.TextContent(summary.append(']').toString()));
        return McpSchema.CallToolResult.builder().content(content).isError(failed).build();
    }

    /** One rich output; null for one whose data is kept elsewhere ({@code href}) or of a type a model cannot use. */
    private static McpSchema.Content output(String executionId, int index, Output output) {
        if (output.data() == null) {
            return output.href() == null ? null
                    : new McpSchema.TextContent(output.type() + " output stored at " + output.href());
        }
        String uri = "sandstream://executions/" + executionId + "/outputs/" + index;
        return switch (output.type()) {
            case "image/png", "image/jpeg", "image/gif", "image/webp" ->
                new McpSchema.ImageContent(null, output.data().asText(), output.type());
            case "text/html", "image/svg+xml", "text/markdown", "text/latex" ->
                new McpSchema.EmbeddedResource(null, new McpSchema.TextResourceContents(uri, output.type(), output.data().asText()));
            case "text/plain" -> new McpSchema.TextContent(output.data().asText());
            default -> new McpSchema.TextContent(output.type() + ": " + text(output.data()));
        };
    }

    private static String text(JsonNode value) {
        return value.isTextual() ? value.textValue() : value.toString();
    }

    /** A tool failure the model can act on: {@code isError: true} with what went wrong. */
    static McpSchema.CallToolResult error(String message) {
        return McpSchema.CallToolResult.builder().addTextContent(message).isError(true).build();
    }
}
