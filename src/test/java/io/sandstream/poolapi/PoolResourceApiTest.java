package io.sandstream.poolapi;

import static io.restassured.RestAssured.given;
import static io.sandstream.poolapi.PoolApiTest.JSON;
import static io.sandstream.poolapi.PoolApiTest.KEY;
import static io.sandstream.poolapi.PoolApiTest.assertAzureError;
import static io.sandstream.poolapi.PoolApiTest.names;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;

/** The resource contract (2024-10-02-preview and later) of the dynamic-sessions data plane, on real sandboxes. */
@QuarkusTest
public class PoolResourceApiTest {

    static final String LATEST = "2025-10-02-preview";
    static final List<String> VERSIONS = List.of("2024-10-02-preview", "2025-02-02-preview", LATEST);

    private final List<String> identifiers = new ArrayList<>();

    /** A new identifier, whose session is deleted after the test: the pool (20 sessions) is shared with other tests. */
    String newIdentifier() {
        String id = PoolApiTest.newIdentifier();
        identifiers.add(id);
        return id;
    }

    @AfterEach
    void deleteSessions() {
        identifiers.forEach(id -> call(LATEST, id).delete("/pools/python/session"));
    }

    static RequestSpecification call(String version, String identifier) {
        return given().header("Authorization", KEY).queryParam("api-version", version).queryParam("identifier", identifier);
    }

    static String flat(String code, String executionType) throws Exception {
        return JSON.writeValueAsString(JSON.createObjectNode().put("code", code).put("codeInputType", "Inline")
                .put("executionType", executionType).put("timeoutInSeconds", 60));
    }

    static String enveloped(String code, String executionType) throws Exception {
        return JSON.writeValueAsString(JSON.createObjectNode().set("properties", JSON.createObjectNode()
                .put("codeInputType", "inline").put("executionType", executionType).put("code", code)));
    }

    static JsonNode execute(String version, String identifier, String body, int status) throws Exception {
        return JSON.readTree(call(version, identifier).contentType("application/json").body(body)
                .post("/pools/python/executions").then().statusCode(status).contentType("application/json")
                .extract().asString());
    }

    static void assertFinal(JsonNode doc, String identifier, String executionType, String status) {
        assertEquals(Set.of("id", "identifier", "sessionId", "executionType", "status", "result"), names(doc), doc.toString());
        UUID.fromString(doc.get("id").textValue());
        assertEquals(identifier, doc.get("identifier").textValue());
        assertEquals(executionType, doc.get("executionType").textValue());
        assertEquals(status, doc.get("status").textValue(), doc.toString());
        assertEquals(Set.of("stdout", "stderr", "executionResult", "executionTimeInMilliseconds"), names(doc.get("result")));
        assertTrue(doc.at("/result/executionTimeInMilliseconds").longValue() >= 0, doc.toString());
    }

    @Test
    void synchronousFlatAndEnvelopedInEveryVersion() throws Exception {
        for (String version : VERSIONS) {
            int status = version.equals("2024-10-02-preview") ? 202 : 200;
            String id = newIdentifier();
            JsonNode doc = execute(version, id, flat("print('hello')\n6 * 7", "Synchronous"), status);
            assertFinal(doc, id, "Synchronous", "Succeeded");
            assertEquals("hello\n", doc.at("/result/stdout").textValue());
            assertEquals("", doc.at("/result/stderr").textValue());
            assertEquals(42, doc.at("/result/executionResult").intValue());

            JsonNode env = execute(version, id, enveloped("x = 'state kept'\nprint(x)", "synchronous"), status);
            assertFinal(env, id, "Synchronous", "Succeeded");
            assertEquals("state kept\n", env.at("/result/stdout").textValue(), env.toString());
            assertEquals("", env.at("/result/executionResult").textValue(), env.toString());
        }
        // Enum values in any case, unknown fields ignored, executionType and codeInputType optional.
        String id = newIdentifier();
        JsonNode doc = execute(LATEST, id, "{\"CODE\":\"1 + 1\",\"codeInputType\":\"INLINE\",\"executionType\":\"sYnChRoNoUs\","
                + "\"identifier\":\"ignored\",\"somethingNew\":{\"a\":1}}", 200);
        assertEquals(2, doc.at("/result/executionResult").intValue(), doc.toString());
        assertEquals(3, execute(LATEST, id, "{\"code\":\"1 + 2\"}", 200).at("/result/executionResult").intValue());
    }

    @Test
    void aSynchronousExecutionCarriesItsIdAsOperationIdAndTheTimingHeaders() throws Exception {
        Response answer = call(LATEST, newIdentifier()).contentType("application/json")
                .body(flat("import time\ntime.sleep(0.3)", "Synchronous")).post("/pools/python/executions");
        assertEquals(200, answer.statusCode(), answer.asString());
        PoolApiTest.assertExecutionHeaders(answer, 300);
        assertEquals(answer.jsonPath().getString("id"), answer.header("Operation-Id"));
    }

    @Test
    void raisingCodeIsFailedWithTheTraceback() throws Exception {
        for (String version : VERSIONS) {
            String id = newIdentifier();
            JsonNode doc = execute(version, id, flat("print('before')\nraise ValueError('boom')", "Synchronous"),
                    version.equals("2024-10-02-preview") ? 202 : 200);
            assertFinal(doc, id, "Synchronous", "Failed");
            assertEquals("before\n", doc.at("/result/stdout").textValue());
            String stderr = doc.at("/result/stderr").textValue();
            assertTrue(stderr.contains("Traceback (most recent call last)") && stderr.contains("ValueError: boom"), stderr);
        }
        JsonNode timedOut = execute(LATEST, newIdentifier(),
                "{\"code\":\"import time\\ntime.sleep(5)\",\"timeoutInSeconds\":1}", 200);
        assertEquals("Failed", timedOut.get("status").textValue(), timedOut.toString());
        assertFalse(timedOut.at("/result/stderr").textValue().isBlank(), timedOut.toString());
    }

    @Test
    void asynchronousIsRunningThenPolledToItsEnd() throws Exception {
        String id = newIdentifier();
        Response submitted = call(LATEST, id).contentType("application/json")
                .body(flat("import time\ntime.sleep(3)\nprint('done late')\n'value'", "Asynchronous")).post("/pools/python/executions");
        assertEquals(202, submitted.statusCode(), submitted.asString());
        JsonNode running = JSON.readTree(submitted.asString());
        assertEquals(Set.of("id", "identifier", "sessionId", "executionType", "status"), names(running), running.toString());
        assertEquals("Running", running.get("status").textValue());
        assertEquals("Asynchronous", running.get("executionType").textValue());
        String executionId = running.get("id").textValue();
        assertEquals(executionId, submitted.header("Operation-Id"));
        String location = submitted.header("Operation-Location");
        assertNotNull(location);
        assertTrue(location.contains("/pools/python/executions/" + executionId + "?api-version=" + LATEST + "&identifier=" + id),
                location);

        List<String> seen = new ArrayList<>();
        JsonNode doc = null;
        for (Instant deadline = Instant.now().plusSeconds(60); Instant.now().isBefore(deadline);) {
            doc = JSON.readTree(given().urlEncodingEnabled(false).header("Authorization", KEY).get(location)
                    .then().statusCode(200).extract().asString());
            seen.add(doc.get("status").textValue());
            if (!doc.get("status").textValue().equals("Running")) {
                break;
            }
            Thread.sleep(200);
        }
        assertEquals("Running", seen.get(0), seen.toString());
        assertFinal(doc, id, "Asynchronous", "Succeeded");
        assertEquals(executionId, doc.get("id").textValue());
        assertEquals("done late\n", doc.at("/result/stdout").textValue());
        assertEquals("value", doc.at("/result/executionResult").textValue());

        // Another session's identifier does not see it; an unknown id is 404.
        assertAzureError(call(LATEST, newIdentifier()).get("/pools/python/executions/" + executionId), 404, "ExecutionNotFound");
        assertAzureError(call(LATEST, id).get("/pools/python/executions/" + UUID.randomUUID()), 404, "ExecutionNotFound");
    }

    @Test
    void filesRoundTrip() throws Exception {
        String id = newIdentifier();
        byte[] all = new byte[256];
        for (int i = 0; i < 256; i++) {
            all[i] = (byte) i;
        }
        String uploaded = call(LATEST, id).multiPart("file", "bytes.bin", all, "application/octet-stream")
                .post("/pools/python/files").then().statusCode(200).extract().asString();
        JsonNode meta = JSON.readTree(uploaded);
        assertEquals(Set.of("name", "type", "contentType", "sizeInBytes", "lastModifiedAt"), names(meta), uploaded);
        assertEquals("bytes.bin", meta.get("name").textValue());
        assertEquals("File", meta.get("type").textValue());
        assertEquals(256, meta.get("sizeInBytes").longValue());
        Instant.parse(meta.get("lastModifiedAt").textValue());
        call(LATEST, id).queryParam("path", "/mnt/data").multiPart("file", "/mnt/data/notes.txt", "hi\n".getBytes(), "text/plain")
                .post("/pools/python/files").then().statusCode(200);

        for (String path : new String[] { null, "", "/mnt/data" }) {
            RequestSpecification list = call(LATEST, id).queryParam("recursive", true);
            if (path != null) {
                list.queryParam("path", path);
            }
            JsonNode files = JSON.readTree(list.get("/pools/python/files").then().statusCode(200).extract().asString());
            assertEquals(Set.of("value"), names(files));
            List<String> listed = new ArrayList<>();
            files.get("value").forEach(f -> listed.add(f.get("name").textValue()));
            assertEquals(Set.of("bytes.bin", "notes.txt"), Set.copyOf(listed), files.toString());
        }
        assertAzureError(call(LATEST, id).queryParam("path", "/etc").get("/pools/python/files"), 400, "InvalidPath");

        JsonNode one = JSON.readTree(call(LATEST, id).get("/pools/python/files/notes.txt").then().statusCode(200)
                .extract().asString());
        assertEquals("notes.txt", one.get("name").textValue());
        assertEquals(3, one.get("sizeInBytes").longValue());
        assertEquals("text/plain", one.get("contentType").textValue());

        Response content = call(LATEST, id).get("/pools/python/files/bytes.bin/content");
        assertEquals(200, content.statusCode());
        assertTrue(content.contentType().startsWith("application/octet-stream"), content.contentType());
        assertArrayEquals(all, content.asByteArray());
        JsonNode read = execute(LATEST, id, flat("open('/mnt/data/bytes.bin','rb').read() == bytes(range(256))", "Synchronous"), 200);
        assertTrue(read.at("/result/executionResult").booleanValue(), read.toString());

        call(LATEST, id).delete("/pools/python/files/bytes.bin").then().statusCode(204);
        assertAzureError(call(LATEST, id).get("/pools/python/files/bytes.bin"), 404, "FileNotFound");
        assertAzureError(call(LATEST, id).get("/pools/python/files/bytes.bin/content"), 404, "FileNotFound");
        assertAzureError(call(LATEST, id).delete("/pools/python/files/bytes.bin"), 404, "FileNotFound");
        assertAzureError(given().urlEncodingEnabled(false).header("Authorization", KEY)
                .get("/pools/python/files/..%2Fescape/content?api-version=" + LATEST + "&identifier=" + id), 400, "InvalidFileName");
    }

    @Test
    void sessionsAreListedReadAndDeleted() throws Exception {
        String id = newIdentifier();
        assertAzureError(call(LATEST, id).get("/pools/python/session"), 404, "SessionNotFound");
        execute(LATEST, id, flat("kept = 1", "Synchronous"), 200);

        JsonNode session = JSON.readTree(call(LATEST, id).get("/pools/python/session").then().statusCode(200)
                .extract().asString());
        assertEquals(id, session.get("identifier").textValue(), session.toString());
        assertTrue(Instant.parse(session.get("expireAt").textValue())
                .isAfter(Instant.parse(session.get("lastAccessedAt").textValue())), session.toString());

        JsonNode list = JSON.readTree(given().header("Authorization", KEY).queryParam("api-version", LATEST)
                .get("/pools/python/listSessions").then().statusCode(200).extract().asString());
        List<String> ids = new ArrayList<>();
        list.get("sessions").forEach(s -> ids.add(s.get("identifier").textValue()));
        assertTrue(ids.contains(id), list.toString());

        call(LATEST, id).delete("/pools/python/session").then().statusCode(204);
        assertAzureError(call(LATEST, id).get("/pools/python/session"), 404, "SessionNotFound");
        assertAzureError(call(LATEST, id).delete("/pools/python/session"), 404, "SessionNotFound");
        // The state went with the session.
        JsonNode after = execute(LATEST, id, flat("kept", "Synchronous"), 200);
        assertEquals("Failed", after.get("status").textValue(), after.toString());
    }

    /**
     * {@code GET metadata} in the spec's shape: SessionPoolMetadataResponse, Runtime and Package in
     * azure-rest-api-specs specification/app/data-plane/Microsoft.App.DynamicSessions/preview/
     * 2025-10-02-preview/DynamicSessions.json (same names in 2025-02-02-preview/DynamicSessions.json
     * and its examples/SessionPoolMetadata_Get.json): runtimes[{name,version}],
     * preInstalledPackages[{name,version}], createdAt and lastUpdatedAt (date-time), jupyterKernel
     * {name,version,projectUrl,description}. The spec marks jupyterKernel required, but these pools
     * run no Jupyter kernel: it is left out rather than invented. The values come from a real sandbox.
     */
    @Test
    void metadataReportsTheSandboxRuntimeInTheSpecShape() throws Exception {
        JsonNode python = JSON.readTree(given().header("Authorization", KEY).queryParam("api-version", LATEST)
                .get("/pools/python/metadata").then().statusCode(200).contentType("application/json").extract().asString());
        assertEquals(Set.of("runtimes", "preInstalledPackages", "createdAt", "lastUpdatedAt"), names(python), python.toString());
        assertEquals(1, python.get("runtimes").size(), python.toString());
        assertEquals(Set.of("name", "version"), names(python.at("/runtimes/0")));
        assertEquals("python", python.at("/runtimes/0/name").textValue(), python.toString());
        String version = python.at("/runtimes/0/version").textValue();
        assertTrue(version != null && version.matches("3\\.\\d+\\.\\d+.*"), python.toString());
        Instant created = Instant.parse(python.get("createdAt").textValue());
        Instant updated = Instant.parse(python.get("lastUpdatedAt").textValue());
        assertFalse(updated.isBefore(created), python.toString());
        JsonNode packages = python.get("preInstalledPackages");
        assertTrue(packages.isArray() && packages.size() > 0, python.toString());
        java.util.Map<String, String> byName = new java.util.HashMap<>();
        for (JsonNode p : packages) {
            assertEquals(Set.of("name", "version"), names(p), p.toString());
            assertTrue(p.get("name").isTextual() && p.get("version").isTextual(), p.toString());
            byName.put(p.get("name").textValue().toLowerCase(), p.get("version").textValue());
        }
        // The data stack as the sandbox's own interpreter reports it: the same version user code imports.
        for (String name : List.of("pandas", "numpy", "matplotlib", "scikit-learn")) {
            assertTrue(byName.containsKey(name), name + " in " + byName.keySet());
        }
        String id = newIdentifier();
        JsonNode inSandbox = execute(LATEST, id, flat("import platform, pandas\nplatform.python_version() + ' ' + pandas.__version__",
                "Synchronous"), 200);
        assertEquals(version + " " + byName.get("pandas"), inSandbox.at("/result/executionResult").textValue(), inSandbox.toString());
        // Asked once, then remembered: the same answer again.
        assertEquals(python, JSON.readTree(given().header("Authorization", KEY).queryParam("api-version", LATEST)
                .get("/pools/python/metadata").then().statusCode(200).extract().asString()));

        JsonNode node = JSON.readTree(given().header("Authorization", KEY).queryParam("api-version", LATEST)
                .get("/pools/javascript/metadata").then().statusCode(200).extract().asString());
        assertEquals(Set.of("runtimes", "preInstalledPackages", "createdAt", "lastUpdatedAt"), names(node), node.toString());
        assertEquals("node", node.at("/runtimes/0/name").textValue(), node.toString());
        String nodeVersion = node.at("/runtimes/0/version").textValue();
        assertTrue(nodeVersion.matches("\\d+\\.\\d+\\.\\d+"), node.toString());
        assertTrue(node.get("preInstalledPackages").isArray(), node.toString());
        JsonNode inNode = JSON.readTree(given().header("Authorization", KEY).queryParam("api-version", LATEST)
                .queryParam("identifier", id).contentType("application/json").body(flat("process.versions.node", "Synchronous"))
                .post("/pools/javascript/executions").then().statusCode(200).extract().asString());
        assertEquals(nodeVersion, inNode.at("/result/executionResult").textValue(), inNode.toString());
        call(LATEST, id).delete("/pools/javascript/session").then().statusCode(204);
    }

    @Test
    void eachContractRefusesTheOthersVersions() throws Exception {
        String id = newIdentifier();
        assertAzureError(call("2024-02-02-preview", id).contentType("application/json").body(flat("1", "Synchronous"))
                .post("/pools/python/executions"), 400, "UnsupportedApiVersion");
        assertAzureError(call("2024-08-02-preview", id).get("/pools/python/session"), 400, "UnsupportedApiVersion");
        assertAzureError(given().header("Authorization", KEY).queryParam("api-version", "2024-08-02-preview")
                .get("/pools/python/listSessions"), 400, "UnsupportedApiVersion");
        assertAzureError(call("2024-02-02-preview", id).get("/pools/python/files/a.txt/content"), 400, "UnsupportedApiVersion");
        assertAzureError(call(LATEST, id).contentType("application/json").body(PoolApiTest.body("1"))
                .post("/pools/python/code/execute"), 400, "UnsupportedApiVersion");
        assertAzureError(call(LATEST, id).multiPart("file", "a.txt", "x".getBytes(), "text/plain")
                .post("/pools/python/files/upload"), 400, "UnsupportedApiVersion");
        assertAzureError(call(LATEST, id).get("/pools/python/files/content/a.txt"), 400, "UnsupportedApiVersion");
        assertAzureError(call("2099-01-01", id).get("/pools/python/files"), 400, "UnsupportedApiVersion");
        // GET files serves both: the legacy shape for a legacy version.
        JsonNode legacy = JSON.readTree(call("2024-08-02-preview", id).get("/pools/python/files").then().statusCode(200)
                .extract().asString());
        assertEquals(Set.of("$id", "value"), names(legacy));

        assertAzureError(given().queryParam("api-version", LATEST).queryParam("identifier", id)
                .get("/pools/python/listSessions"), 401, "Unauthorized");
        assertAzureError(call(LATEST, id).get("/pools/nope/metadata"), 404, "PoolNotFound");
        assertAzureError(call(LATEST, "a b").get("/pools/python/session"), 400, "InvalidIdentifier");
        for (String bad : List.of("{\"code\":\"1\",\"executionType\":\"Later\"}", "{\"code\":\"1\",\"codeInputType\":\"Blob\"}",
                "{\"executionType\":\"Synchronous\"}", "{\"properties\":\"x\"}", "{\"code\":\"1\",\"timeoutInSeconds\":0}",
                "[]", "")) {
            assertAzureError(call(LATEST, id).contentType("application/json").body(bad).post("/pools/python/executions"), 400,
                    "InvalidRequestBody");
        }
    }
}
