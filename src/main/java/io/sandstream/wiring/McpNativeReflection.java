package io.sandstream.wiring;

import io.modelcontextprotocol.spec.McpSchema;
import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * What a native image must keep for the MCP server: the MCP Java SDK's schema records (every type
 * nested in {@link McpSchema}), which the SDK reads and writes with its own Jackson mapper.
 */
@RegisterForReflection(targets = McpSchema.class, ignoreNested = false)
final class McpNativeReflection {

    private McpNativeReflection() {
    }
}
