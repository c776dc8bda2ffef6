package io.sandstream.mcp;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.quarkus.test.junit.QuarkusTest;

/**
 * The MCP server driven by the official MCP TypeScript SDK's client ({@code src/test/mcp/mcp-client.mjs},
 * the SDK from the tools directory {@code .ci/setup} fills): one node process runs every case against
 * this test's service and reports JSON; each test here asserts one case, so a failure names it.
 * Real sandboxes, the real journal and store: a run through MCP is read back on {@code /executions}.
 */
@QuarkusTest
class McpServerTest {

    private static final Path SCRIPT = Path.of("src/test/mcp/mcp-client.mjs");
    private static final Path OUT = Path.of("target/mcp-client");
    private static final long TIMEOUT_SECONDS = 300;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String KEY = "Bearer tenant-a-key";
    private static JsonNode cases;

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Test
    void refusesWithoutAValidKey() {
        assertCase("unauthorized");
        given().contentType("application/json").body("{}").post("/mcp").then().statusCode(401)
                .header("Content-Type", containsString("problem+json")).header("WWW-Authenticate", "Bearer");
    }

    @Test
    void refusesWhatTheTransportDoesNotAllow() {
        String init = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
                + "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
        String both = "application/json, text/event-stream";
        // A browser page from another origin (DNS rebinding), an Accept without SSE, an unknown revision,
        // a malformed message, a request without a session, a method the transport does not serve.
        given().header("Authorization", KEY).header("Origin", "http://attacker.example").contentType("application/json")
                .accept(both).body(init).post("/mcp").then().statusCode(403);
        given().header("Authorization", KEY).contentType("application/json").accept("application/json").body(init)
                .post("/mcp").then().statusCode(406);
        given().header("Authorization", KEY).header("MCP-Protocol-Version", "1999-01-01").contentType("application/json")
                .accept(both).body(init).post("/mcp").then().statusCode(400).body("error.code", equalTo(-32600));
        given().header("Authorization", KEY).contentType("application/json").accept(both).body("[1,")
                .post("/mcp").then().statusCode(400).body("error.code", equalTo(-32700));
        given().header("Authorization", KEY).contentType("application/json").accept(both)
                .body("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}").post("/mcp").then().statusCode(400);
        given().header("Authorization", KEY).delete("/mcp").then().statusCode(400);
        given().header("Authorization", KEY).put("/mcp").then().statusCode(405);
        // The same origin is fine.
        given().header("Authorization", KEY).header("Origin", "http://localhost:" + port).contentType("application/json")
                .accept(both).body(init).post("/mcp").then().statusCode(200).header("Mcp-Session-Id", notNullValue());
    }

    @Test
    void initializesAtTheNegotiatedRevision() {
        assertCase("initialize");
    }

    @Test
    void listsTheToolsWithSchemas() {
        assertCase("listTools");
    }

    @Test
    void keepsStateInASessionAndRunsThroughTheExecutionsPath() {
        assertCase("statefulSession");
    }

    @Test
    void aFailingRunIsAToolErrorWithTheTraceback() {
        assertCase("failingRun");
        assertCase("invalidArguments");
    }

    @Test
    void figuresAreImagesAndTablesEmbeddedHtml() {
        assertCase("figure");
        assertCase("htmlTable");
    }

    @Test
    void liveOutputArrivesAsProgress() {
        assertCase("progress");
    }

    @Test
    void aDroppedStreamResumesFromTheLastEventId() {
        assertCase("resumeAndGetStream");
    }

    @Test
    void filesMakeTheRoundTrip() {
        assertCase("fileRoundTrip");
    }

    @Test
    void tenantsAreIsolated() {
        assertCase("tenantIsolation");
    }

    @Test
    void listsLanguagesAndPackagesAndEndsSessions() {
        assertCase("languages");
        assertCase("endSession");
        assertCase("deleteSession");
    }

    @Test
    void metricsNameTheTool() {
        assertCase("statefulSession");
        given().header("Authorization", "Bearer test-reader").get("/q/metrics").then().statusCode(200)
                .body(containsString("sandstream_mcp_tool_calls_total{outcome=\"ok\",tool=\"run_code\"}"))
                .body(containsString("sandstream_mcp_tool_calls_total{outcome=\"error\",tool=\"run_code\"}"))
                .body(containsString("sandstream_events_received_total{endpoint=\"mcp\",outcome=\"accepted\"}"))
                .body(containsString("sandstream_mcp_sessions"));
    }

    private void assertCase(String name) {
        JsonNode result = cases().get(name);
        assertNotNull(result, "the client script did not run case " + name + ": " + cases());
        assertTrue(result.path("ok").asBoolean(), name + ": " + result.path("detail").asText());
    }

    private synchronized JsonNode cases() {
        if (cases == null) {
            cases = run();
        }
        return cases;
    }

    private JsonNode run() {
        Path sdk = sdk();
        try {
            Files.createDirectories(OUT);
            Path out = OUT.resolve("cases.json");
            Path log = OUT.resolve("client.log");
            ProcessBuilder builder = new ProcessBuilder(List.of("node", SCRIPT.toString(), "http://127.0.0.1:" + port,
                    "tenant-a-key", "tenant-b-key")).redirectOutput(out.toFile()).redirectError(log.toFile());
            builder.environment().put("MCP_SDK", sdk.toString());
            Process node = builder.start();
            if (!node.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                node.destroyForcibly();
                fail("the MCP client script did not end in " + TIMEOUT_SECONDS + " s; see " + log);
            }
            assertEquals(0, node.exitValue(), "the MCP client script failed:\n" + Files.readString(log));
            return JSON.readTree(Files.readString(out, StandardCharsets.UTF_8));
        } catch (Exception e) {
            throw new IllegalStateException("could not run " + SCRIPT, e);
        }
    }

    /** The SDK in the tools directory (SANDSTREAM_TOOLS_DIR, default ~/.cache/sandstream-tools). */
    private static Path sdk() {
        String tools = System.getenv("SANDSTREAM_TOOLS_DIR");
        Path dir = tools != null && !tools.isBlank() ? Path.of(tools) : Path.of(System.getProperty("user.home"), ".cache", "sandstream-tools");
        Path module = dir.resolve("node_modules/@modelcontextprotocol/sdk").toAbsolutePath();
        if (!Files.isDirectory(module)) {
            fail(module + " is missing: run .ci/setup (installs the MCP SDK into the tools directory)");
        }
        return module;
    }
}
