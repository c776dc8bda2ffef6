package io.sandstream.poolapi;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;

/** The legacy dynamic-sessions data plane over HTTP, on the real local pools and sandboxes. */
@QuarkusTest
public class PoolApiTest {

    static final String KEY = "Bearer test-reader";
    static final String VERSION = "2024-02-02-preview";
    static final ObjectMapper JSON = new ObjectMapper();

    static String newIdentifier() {
        return "pa-" + UUID.randomUUID();
    }

    static RequestSpecification call(String identifier) {
        return given().header("Authorization", KEY).queryParam("api-version", VERSION).queryParam("identifier", identifier);
    }

    static String body(String code) {
        try {
            return JSON.writeValueAsString(JSON.createObjectNode().set("properties", JSON.createObjectNode()
                    .put("codeInputType", "inline").put("executionType", "synchronous").put("code", code)));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode execute(String pool, String identifier, String code) throws Exception {
        String answer = call(identifier).contentType("application/json").body(body(code))
                .post("/pools/" + pool + "/code/execute").then().statusCode(200).contentType("application/json")
                .extract().asString();
        return JSON.readTree(answer);
    }

    static Set<String> names(JsonNode node) {
        Set<String> names = new TreeSet<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    static void assertExecutionShape(JsonNode doc, String identifier) {
        assertEquals(Set.of("$id", "identifier", "properties"), names(doc), doc.toString());
        assertEquals("1", doc.get("$id").textValue());
        assertEquals(identifier, doc.get("identifier").textValue());
        JsonNode p = doc.get("properties");
        assertEquals(Set.of("$id", "status", "stdout", "stderr", "result", "executionTimeInMilliseconds"), names(p), doc.toString());
        assertEquals("2", p.get("$id").textValue());
        assertTrue(p.get("stdout").isTextual() && p.get("stderr").isTextual(), doc.toString());
        assertTrue(p.get("executionTimeInMilliseconds").isIntegralNumber(), doc.toString());
        assertTrue(p.get("executionTimeInMilliseconds").longValue() >= 0, doc.toString());
    }

    @Test
    void pythonExecuteAnswersTheLegacyShape() throws Exception {
        String id = newIdentifier();
        JsonNode doc = execute("python", id, "print('hello')\n6 * 7");
        assertExecutionShape(doc, id);
        assertEquals("Success", doc.at("/properties/status").textValue());
        assertEquals("hello\n", doc.at("/properties/stdout").textValue());
        assertEquals("", doc.at("/properties/stderr").textValue());
        assertEquals(42, doc.at("/properties/result").intValue());

        JsonNode noValue = execute("python", id, "x = 1");
        assertEquals("", noValue.at("/properties/result").textValue(), noValue.toString());
    }

    /**
     * The answer to a finished execution carries its operation id and the code interpreter's timing
     * headers in whole milliseconds: the whole request, and within it the code's own run.
     */
    static void assertExecutionHeaders(Response answer, long codeRanAtLeastMs) {
        UUID.fromString(answer.header("Operation-Id"));
        long overall = Long.parseLong(answer.header("X-Ms-Overall-Execution-Time"));
        long container = Long.parseLong(answer.header("X-Ms-Container-Execution-Duration"));
        assertTrue(container >= codeRanAtLeastMs, answer.headers().toString());
        assertTrue(overall >= container, answer.headers().toString());
    }

    @Test
    void executionAnswersCarryOperationIdAndTimingHeaders() {
        String id = newIdentifier();
        Response answer = call(id).contentType("application/json").body(body("import time\ntime.sleep(0.3)"))
                .post("/pools/python/code/execute");
        assertEquals(200, answer.statusCode(), answer.asString());
        assertExecutionHeaders(answer, 300);
        // Failing code is still an execution; a refused request is not.
        Response failed = call(id).contentType("application/json").body(body("raise KeyError()"))
                .post("/pools/python/code/execute");
        assertExecutionHeaders(failed, 0);
        assertTrue(!failed.header("Operation-Id").equals(answer.header("Operation-Id")));
        Response refused = call(id).contentType("application/json").body("{}").post("/pools/python/code/execute");
        assertEquals(400, refused.statusCode());
        assertEquals(null, refused.header("X-Ms-Overall-Execution-Time"));
        given().header("Authorization", KEY).queryParam("api-version", "2025-10-02-preview").queryParam("identifier", id)
                .delete("/pools/python/session").then().statusCode(204);
    }

    @Test
    void javascriptExecuteAnswersTheLegacyShape() throws Exception {
        String id = newIdentifier();
        JsonNode doc = execute("javascript", id, "console.log('hi'); 20 + 22");
        assertExecutionShape(doc, id);
        assertEquals("Success", doc.at("/properties/status").textValue(), doc.toString());
        assertEquals("hi\n", doc.at("/properties/stdout").textValue());
        assertEquals(42, doc.at("/properties/result").intValue(), doc.toString());

        JsonNode thrown = execute("javascript", id, "throw new TypeError('nope')");
        assertEquals("Failure", thrown.at("/properties/status").textValue(), thrown.toString());
        assertTrue(thrown.at("/properties/stderr").textValue().contains("TypeError: nope"), thrown.toString());
    }

    @Test
    void stateLastsAcrossCallsOfOneIdentifierAndNotAcrossIdentifiers() throws Exception {
        String id = newIdentifier();
        execute("python", id, "counter = 41");
        assertEquals(42, execute("python", id, "counter + 1").at("/properties/result").intValue());
        JsonNode other = execute("python", newIdentifier(), "counter");
        assertEquals("Failure", other.at("/properties/status").textValue(), other.toString());
        assertTrue(other.at("/properties/stderr").textValue().contains("NameError"), other.toString());
    }

    @Test
    void raisingCodeIsHttp200WithFailureAndTraceback() throws Exception {
        String id = newIdentifier();
        JsonNode doc = execute("python", id, "print('before')\nraise ValueError('boom')");
        assertExecutionShape(doc, id);
        assertEquals("Failure", doc.at("/properties/status").textValue());
        assertEquals("before\n", doc.at("/properties/stdout").textValue());
        String stderr = doc.at("/properties/stderr").textValue();
        assertTrue(stderr.contains("Traceback (most recent call last)") && stderr.contains("ValueError: boom"), stderr);
        assertEquals("", doc.at("/properties/result").textValue());
        // The session survives its code's exception.
        assertEquals(2, execute("python", id, "1 + 1").at("/properties/result").intValue());
    }

    @Test
    void timeoutAndPropertyNamesInAnyCase() throws Exception {
        String id = newIdentifier();
        String answer = call(id).contentType("application/json")
                .body("{\"Properties\":{\"CodeInputType\":\"Inline\",\"EXECUTIONTYPE\":\"synchronous\",\"Code\":\"import time\\ntime.sleep(5)\","
                        + "\"timeoutInSeconds\":1,\"somethingNew\":true},\"extra\":1}")
                .post("/pools/python/code/execute").then().statusCode(200).extract().asString();
        JsonNode doc = JSON.readTree(answer);
        assertEquals("Failure", doc.at("/properties/status").textValue(), answer);
        assertTrue(doc.at("/properties/executionTimeInMilliseconds").longValue() < 4000, answer);
        assertTrue(!doc.at("/properties/stderr").textValue().isBlank(), answer);
    }

    /** Exactly what langchain-azure-dynamic-sessions' SessionsPythonREPLTool sends, and what it reads. */
    @Test
    void langchainSessionsPythonReplToolRequest() throws Exception {
        String sessionId = UUID.randomUUID().toString();
        String code = "import sys\nprint(sys.version_info[0])\n'answer: ' + str(6 * 7)";
        String answer = given().urlEncodingEnabled(false)
                .header("Authorization", KEY)
                .header("Content-Type", "application/json")
                .header("User-Agent", "langchain-azure-dynamic-sessions/0.2.0 (Language=Python)")
                .body("{\"properties\": {\"codeInputType\": \"inline\", \"executionType\": \"synchronous\", \"code\": "
                        + JSON.writeValueAsString(code) + "}}")
                .post("/pools/python/code/execute?identifier=" + sessionId + "&api-version=2024-02-02-preview")
                .then().statusCode(200).extract().asString();
        JsonNode properties = JSON.readTree(answer).get("properties");
        assertEquals("Success", properties.get("status").textValue(), answer);
        assertEquals("3\n", properties.get("stdout").textValue());
        assertEquals("", properties.get("stderr").textValue());
        assertEquals("answer: 42", properties.get("result").textValue());
    }

    @Test
    void uploadListDownloadAndReadFromCode() throws Exception {
        String id = newIdentifier();
        byte[] all = new byte[256];
        for (int i = 0; i < 256; i++) {
            all[i] = (byte) i;
        }
        String uploaded = call(id).multiPart("file", "bytes.bin", all, "application/octet-stream")
                .post("/pools/python/files/upload").then().statusCode(200).extract().asString();
        JsonNode up = JSON.readTree(uploaded);
        assertEquals(Set.of("$id", "value"), names(up), uploaded);
        assertEquals("1", up.get("$id").textValue());
        assertEquals(1, up.get("value").size(), uploaded);
        JsonNode entry = up.at("/value/0");
        assertEquals(Set.of("$id", "properties"), names(entry));
        assertEquals("2", entry.get("$id").textValue());
        assertEquals(Set.of("$id", "filename", "size", "lastModifiedTime"), names(entry.get("properties")), uploaded);
        assertEquals("3", entry.at("/properties/$id").textValue());
        assertEquals("bytes.bin", entry.at("/properties/filename").textValue());
        assertEquals(256, entry.at("/properties/size").longValue());
        java.time.Instant.parse(entry.at("/properties/lastModifiedTime").textValue());

        // The full path, as LangChain sends it when given one.
        call(id).multiPart("file", "/mnt/data/notes.txt", "hello\n".getBytes(), "application/octet-stream")
                .post("/pools/python/files/upload").then().statusCode(200);

        JsonNode list = JSON.readTree(call(id).get("/pools/python/files").then().statusCode(200).extract().asString());
        List<String> files = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        ids.add(list.get("$id").textValue());
        for (JsonNode item : list.get("value")) {
            files.add(item.at("/properties/filename").textValue());
            ids.add(item.get("$id").textValue());
            ids.add(item.at("/properties/$id").textValue());
        }
        assertEquals(Set.of("bytes.bin", "notes.txt"), new TreeSet<>(files), list.toString());
        assertEquals(List.of("1", "2", "3", "4", "5"), ids, list.toString());

        Response content = call(id).get("/pools/python/files/content/bytes.bin");
        assertEquals(200, content.statusCode());
        assertTrue(content.contentType().startsWith("application/octet-stream"), content.contentType());
        assertArrayEquals(all, content.asByteArray());

        Response byPath = given().urlEncodingEnabled(false).header("Authorization", KEY)
                .get("/pools/python/files/content//mnt/data/bytes.bin?api-version=" + VERSION + "&identifier=" + id);
        assertEquals(200, byPath.statusCode(), byPath.asString());
        assertArrayEquals(all, byPath.asByteArray());
        assertAzureError(call(id).get("/pools/python/files/content/sub/bytes.bin"), 400, "InvalidFileName");
        assertAzureError(given().urlEncodingEnabled(false).header("Authorization", KEY)
                .get("/pools/python/files/content//mnt/data/../bytes.bin?api-version=" + VERSION + "&identifier=" + id), 400,
                "InvalidFileName");

        JsonNode read = execute("python", id,
                "data = open('/mnt/data/bytes.bin', 'rb').read()\nprint(open('/mnt/data/notes.txt').read(), end='')\ndata == bytes(range(256))");
        assertEquals("Success", read.at("/properties/status").textValue(), read.toString());
        assertEquals("hello\n", read.at("/properties/stdout").textValue());
        assertTrue(read.at("/properties/result").booleanValue(), read.toString());

        // A file the code wrote comes back through the API.
        execute("python", id, "open('/mnt/data/out.txt', 'w').write('made in the sandbox')");
        assertEquals("made in the sandbox", call(id).get("/pools/python/files/content/out.txt").then().statusCode(200)
                .extract().asString());
    }

    /** Issue 20 point 2: a blank cell is a success in every language, as in a Jupyter kernel. */
    @Test
    void blankCodeIsAnEmptyCellInEveryPool() throws Exception {
        for (String pool : List.of("python", "javascript")) {
            String id = newIdentifier();
            JsonNode doc = execute(pool, id, "\n\n");
            assertExecutionShape(doc, id);
            assertEquals("Success", doc.at("/properties/status").textValue(), pool + ": " + doc);
            assertEquals("", doc.at("/properties/stdout").textValue(), pool + ": " + doc);
            assertEquals("", doc.at("/properties/stderr").textValue(), pool + ": " + doc);
            assertEquals("", doc.at("/properties/result").textValue(), pool + ": " + doc);
            given().header("Authorization", KEY).queryParam("api-version", "2025-10-02-preview").queryParam("identifier", id)
                    .delete("/pools/" + pool + "/session");
        }
    }

    static void assertAzureError(Response response, int status, String code) {
        assertEquals(status, response.statusCode(), response.asString());
        assertEquals(code, response.header("x-ms-error-code"), response.asString());
        assertTrue(response.contentType().startsWith("application/json"), response.contentType());
        assertEquals(code, response.jsonPath().getString("error.code"), response.asString());
        assertTrue(!response.jsonPath().getString("error.message").isBlank());
    }

    /** Semantic Kernel .NET's python/execute and python/downloadFile: the identifier and the name are checked as elsewhere. */
    @Test
    void pythonExecuteAndDownloadFileErrors() {
        String id = newIdentifier();
        RequestSpecification noIdentifier = given().header("Authorization", KEY).queryParam("api-version", VERSION)
                .contentType("application/json");
        assertAzureError(noIdentifier.body("{\"properties\":{\"pythonCode\":\"1\"}}").post("/pools/python/python/execute"),
                400, "InvalidIdentifier");
        assertAzureError(noIdentifier.body("{\"properties\":{\"identifier\":\"" + id + "\"}}").post("/pools/python/python/execute"),
                400, "InvalidRequestBody");
        // The query's identifier wins over the body's.
        assertAzureError(call(id).contentType("application/json").body("{\"properties\":{\"identifier\":\"no!\"}}")
                .post("/pools/python/python/execute"), 400, "InvalidRequestBody");
        assertAzureError(call(id).post("/pools/python/python/execute"), 400, "InvalidRequestBody");

        assertAzureError(call(id).get("/pools/python/python/downloadFile"), 400, "InvalidFileName");
        assertAzureError(call(id).queryParam("filename", "../x").get("/pools/python/python/downloadFile"), 400,
                "InvalidFileName");
        assertAzureError(call(id).queryParam("filename", "missing.txt").get("/pools/python/python/downloadFile"), 404,
                "FileNotFound");
        given().header("Authorization", KEY).queryParam("api-version", "2025-10-02-preview").queryParam("identifier", id)
                .delete("/pools/python/session");
    }

    @Test
    void errorMatrix() {
        String id = newIdentifier();
        String ok = body("1");

        Response noKey = given().queryParam("api-version", VERSION).queryParam("identifier", id)
                .contentType("application/json").body(ok).post("/pools/python/code/execute");
        assertAzureError(noKey, 401, "Unauthorized");
        assertEquals("Bearer", noKey.header("WWW-Authenticate"));
        assertAzureError(given().header("Authorization", "Bearer wrong").queryParam("api-version", VERSION)
                .queryParam("identifier", id).get("/pools/python/files"), 401, "Unauthorized");

        assertAzureError(call(id).contentType("application/json").body(ok).post("/pools/nope/code/execute"), 404, "PoolNotFound");
        assertAzureError(call(id).get("/pools/nope/files"), 404, "PoolNotFound");

        assertAzureError(call("a b!").contentType("application/json").body(ok).post("/pools/python/code/execute"), 400,
                "InvalidIdentifier");
        assertAzureError(call("ab").get("/pools/python/files"), 400, "InvalidIdentifier");
        assertAzureError(given().header("Authorization", KEY).queryParam("api-version", VERSION).get("/pools/python/files"),
                400, "InvalidIdentifier");

        assertAzureError(given().header("Authorization", KEY).queryParam("identifier", id).contentType("application/json")
                .body(ok).post("/pools/python/code/execute"), 400, "MissingApiVersionParameter");
        assertAzureError(given().header("Authorization", KEY).queryParam("identifier", id).queryParam("api-version", "2099-01-01")
                .get("/pools/python/files"), 400, "UnsupportedApiVersion");

        assertAzureError(call(id).contentType("application/json")
                .body("{\"properties\":{\"codeInputType\":\"inline\",\"executionType\":\"synchronous\",\"code\":\"1\",\"timeoutInSeconds\":221}}")
                .post("/pools/python/code/execute"), 400, "InvalidRequestBody");
        assertAzureError(call(id).contentType("application/json").body("{\"properties\":{\"codeInputType\":\"inline\"}}")
                .post("/pools/python/code/execute"), 400, "InvalidRequestBody");
        assertAzureError(call(id).contentType("application/json").body("{\"properties\":")
                .post("/pools/python/code/execute"), 400, "InvalidRequestBody");
        assertAzureError(call(id).body("").post("/pools/python/code/execute"), 400, "InvalidRequestBody");
        assertAzureError(call(id).contentType("application/json")
                .body("{\"properties\":{\"codeInputType\":\"inline\",\"executionType\":\"asynchronous\",\"code\":\"1\"}}")
                .post("/pools/python/code/execute"), 400, "InvalidRequestBody");

        for (String hostile : List.of("[]", "\"text\"", "null", "{\"properties\":[]}", "{\"properties\":{\"code\":5}}",
                "{\"properties\":{\"code\":null}}", "{\"properties\":{\"code\":\"1\",\"timeoutInSeconds\":\"ten\"}}",
                "{\"properties\":{\"code\":\"1\",\"timeoutInSeconds\":1.5}}", "{\"properties\":{\"code\":\"1\",\"timeoutInSeconds\":0}}",
                "{\"properties\":{\"code\":\"1\",\"timeoutInSeconds\":99999999999}}", "{\"properties\":{\"code\":\"1\",\"codeInputType\":7}}",
                "\u0000\u00ff")) {
            assertAzureError(call(id).contentType("application/json").body(hostile).post("/pools/python/code/execute"), 400,
                    "InvalidRequestBody");
        }

        assertAzureError(call(id).get("/pools/python/files/content/missing.txt"), 404, "FileNotFound");
        // An encoded slash reaches the resource as part of the name and is refused there.
        assertAzureError(given().urlEncodingEnabled(false).header("Authorization", KEY)
                .get("/pools/python/files/content/..%2Fetc%2Fpasswd?api-version=" + VERSION + "&identifier=" + id), 400,
                "InvalidFileName");
        for (String name : List.of("../escape.txt", "/mnt/data/../escape.txt", "/etc/passwd", "sub/dir.txt", "..")) {
            assertAzureError(call(id).multiPart("file", name, "x".getBytes(), "application/octet-stream")
                    .post("/pools/python/files/upload"), 400, "InvalidFileName");
        }
        assertAzureError(call(id).multiPart("other", "a.txt", "x".getBytes(), "application/octet-stream")
                .post("/pools/python/files/upload"), 400, "MissingFile");
    }

    static Response rawMultipart(String identifier, String body) {
        return call(identifier).contentType("multipart/form-data; boundary=b0undary")
                .body(body.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1)).post("/pools/python/files/upload");
    }

    /** Issue 16 point 6: the multipart parser's refusals are the client's, in the pool API's shape. */
    @Test
    void aMalformedMultipartBodyIsABadRequest() {
        String id = newIdentifier();
        String part = "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"";
        String rest = "\"\r\nContent-Type: application/octet-stream\r\n\r\nhello\r\n--b0undary--\r\n";
        assertAzureError(rawMultipart(id, part + "a\r\nb.txt" + rest), 400, "InvalidRequestBody");
        assertAzureError(rawMultipart(id, part + "a\rb.txt" + rest), 400, "InvalidRequestBody");
        assertAzureError(rawMultipart(id, part + "a.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nhel"), 400,
                "InvalidRequestBody");
        call(id).multiPart("file", "ok.txt", "fine".getBytes(), "application/octet-stream")
                .post("/pools/python/files/upload").then().statusCode(200);
    }

    /** Issue 16 point 5: a FIFO (or a directory) in the session is refused at once, and the session goes on. */
    @Test
    void downloadingAFifoIsRefusedAndTheSessionGoesOn() throws Exception {
        String id = newIdentifier();
        execute("python", id, "import os\nos.mkfifo('/mnt/data/pipe')\nos.mkdir('/mnt/data/dir')");
        assertAzureError(call(id).get("/pools/python/files/content/pipe"), 400, "FileOperationFailed");
        assertAzureError(call(id).get("/pools/python/files/content/dir"), 400, "FileOperationFailed");
        assertEquals("Success", execute("python", id, "1 + 1").at("/properties/status").textValue());
    }
}
