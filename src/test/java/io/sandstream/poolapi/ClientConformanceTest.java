package io.sandstream.poolapi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.URL;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;

/**
 * Replays, byte for byte where it matters, the requests that public dynamic-sessions clients send
 * (URL path, query order, headers, body, multipart framing) against {@code /pools/python/}, and
 * checks exactly the response fields each client reads. The client behaviour is taken from the
 * client sources (paraphrased in the comments); nothing here is guessed from documentation.
 */
@QuarkusTest
public class ClientConformanceTest {

    static final String AUTH = "Bearer test-reader";
    static final String LEGACY = "2024-02-02-preview";
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @TestHTTPResource("/pools/python/")
    URL endpoint;

    private final List<String> identifiers = new ArrayList<>();

    /** A client's session identifier (a GUID, as they make them), its session ended after the test: the pool is shared. */
    String newIdentifier() {
        String id = UUID.randomUUID().toString();
        identifiers.add(id);
        return id;
    }

    @AfterEach
    void endSessions() throws Exception {
        for (String id : identifiers) {
            send(HttpRequest.newBuilder(URI.create(base() + "session?api-version=2025-10-02-preview&identifier=" + id))
                    .header("Authorization", AUTH).DELETE());
        }
    }

    /** The pool management endpoint as a client is configured with it (trailing slash). */
    String base() {
        String s = endpoint.toString();
        return s.endsWith("/") ? s : s + "/";
    }

    /** A legacy-contract URL as Semantic Kernel builds it: identifier first, then api-version. */
    String legacyUrl(String path, String id) {
        return base() + path + "?identifier=" + id + "&api-version=" + LEGACY;
    }

    static String q(String v) {
        return URLEncoder.encode(v, StandardCharsets.UTF_8);
    }

    static HttpResponse<byte[]> send(HttpRequest.Builder request) throws Exception {
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    static JsonNode json(HttpResponse<byte[]> response) throws Exception {
        String body = new String(response.body(), StandardCharsets.UTF_8);
        assertTrue(response.statusCode() / 100 == 2, "HTTP " + response.statusCode() + ": " + body);
        return JSON.readTree(body);
    }

    static HttpRequest.Builder postJson(String url, ObjectNode body, String userAgent) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).header("Authorization", AUTH)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
        return userAgent == null ? b : b.header("User-Agent", userAgent);
    }

    static HttpRequest.Builder get(String url, String userAgent) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).header("Authorization", AUTH).GET();
        return userAgent == null ? b : b.header("User-Agent", userAgent);
    }

    /**
     * A multipart body with one part named {@code file}, framed like Python clients (httpx,
     * requests, aiohttp) frame it: quoted name and filename, part Content-Type octet-stream.
     */
    static HttpRequest.Builder postPythonMultipart(String url, String filename, byte[] content, String userAgent) {
        String boundary = UUID.randomUUID().toString().replace("-", "");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename
                + "\"\r\nContent-Type: application/octet-stream\r\n\r\n").getBytes(StandardCharsets.UTF_8));
        out.writeBytes(content);
        out.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).header("Authorization", AUTH)
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(out.toByteArray()));
        return userAgent == null ? b : b.header("User-Agent", userAgent);
    }

    /**
     * The framing of .NET's {@code MultipartFormDataContent.Add(ByteArrayContent, "file", name)}:
     * quoted boundary in the header, unquoted name/filename plus an RFC 5987 {@code filename*},
     * and no Content-Type on the part (a ByteArrayContent carries none).
     */
    static HttpRequest.Builder postDotnetMultipart(String url, String filename, byte[] content, String userAgent) {
        String boundary = UUID.randomUUID().toString();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=file; filename=" + filename
                + "; filename*=utf-8''" + filename + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
        out.writeBytes(content);
        out.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return HttpRequest.newBuilder(URI.create(url)).header("Authorization", AUTH).header("User-Agent", userAgent)
                .header("Content-Type", "multipart/form-data; boundary=\"" + boundary + "\"")
                .POST(HttpRequest.BodyPublishers.ofByteArray(out.toByteArray()));
    }

    static ObjectNode legacyBody(String code, Integer timeout) {
        ObjectNode p = JSON.createObjectNode().put("codeInputType", "inline").put("executionType", "synchronous")
                .put("code", code);
        if (timeout != null) {
            p.put("timeoutInSeconds", timeout);
        }
        ObjectNode root = JSON.createObjectNode();
        root.set("properties", p);
        return root;
    }

    // ---------------------------------------------------------------- Semantic Kernel .NET

    /*
     * Semantic Kernel .NET, dotnet/src/Plugins/Plugins.Core/CodeInterpreter/SessionsPythonPlugin.cs
     * (version with ApiVersion "2024-10-02-preview"): every call goes through SendAsync, which appends
     * "?identifier={SessionId}&api-version=2024-10-02-preview" to a path relative to the endpoint and
     * adds "User-Agent: Semantic-Kernel/{assembly version} (Language=dotnet)" plus the bearer token.
     * ExecuteCodeAsync posts SessionsPythonCodeExecutionProperties as JSON (codeInputType,
     * executionType, timeoutInSeconds = 100, code) to "executions"; the enums go through
     * JsonStringEnumConverter, which writes the member names "Inline"/"Synchronous". Any 2xx is
     * accepted. It then calls GetProperty("status"), GetProperty("result") and, inside result,
     * "executionResult", "stdout", "stderr" (GetProperty throws when one is missing).
     * UploadFileAsync posts a MultipartFormDataContent part "file" named remoteFileName to "files"
     * and deserializes the whole body as SessionsRemoteFileMetadata (name, sizeInBytes as int?,
     * lastModifiedAt as DateTime?, contentType, type). ListFilesAsync GETs "files" and deserializes
     * "value" as an array of that same type (no "properties" wrapper). DownloadFileAsync GETs
     * "files/{Uri.EscapeDataString(name)}/content" and keeps the raw bytes.
     */
    static final String SK_DOTNET_UA = "Semantic-Kernel/1.0.0.0 (Language=dotnet)";
    static final String SK_DOTNET_VERSION = "2024-10-02-preview";

    String skDotnetUrl(String path, String id) {
        return base() + path + "?identifier=" + id + "&api-version=" + SK_DOTNET_VERSION;
    }

    /**
     * What System.Text.Json needs to read a SessionsRemoteFileMetadata whose name, int size and
     * DateTime? modification time sit in the named fields: the date as ISO 8601 text.
     */
    static void assertDotnetMetadata(JsonNode file, String nameField, String sizeField, String modifiedField,
            String name, long size) {
        assertEquals(name, file.path(nameField).textValue(), file.toString());
        assertTrue(file.path(sizeField).canConvertToInt(), file.toString());
        assertEquals(size, file.path(sizeField).longValue(), file.toString());
        JsonNode modified = file.get(modifiedField);
        if (modified != null && !modified.isNull()) {
            assertNotNull(OffsetDateTime.parse(modified.textValue()), file.toString());
        }
    }

    static void assertDotnetFileMetadata(JsonNode file, String name, long size) {
        assertDotnetMetadata(file, "name", "sizeInBytes", "lastModifiedAt", name, size);
        assertTrue(file.path("type").isTextual(), file.toString());
        JsonNode contentType = file.get("contentType");
        assertTrue(contentType == null || contentType.isNull() || contentType.isTextual(), file.toString());
    }

    @Test
    void semanticKernelDotnet() throws Exception {
        String id = newIdentifier();
        ObjectNode body = JSON.createObjectNode().put("codeInputType", "Inline").put("executionType", "Synchronous")
                .put("timeoutInSeconds", 100).put("code", "print('sk-dotnet')\n6 * 7");
        JsonNode doc = json(send(postJson(skDotnetUrl("executions", id), body, SK_DOTNET_UA)));
        assertTrue(doc.path("status").isTextual(), doc.toString());
        assertEquals("Succeeded", doc.path("status").textValue(), doc.toString());
        JsonNode result = doc.get("result");
        assertNotNull(result, doc.toString());
        assertTrue(result.has("executionResult") && result.has("stdout") && result.has("stderr"), doc.toString());
        assertEquals("sk-dotnet\n", result.get("stdout").textValue(), doc.toString());
        assertEquals("42", result.get("executionResult").asText(), doc.toString());

        byte[] content = "a,b\n1,2\n".getBytes(StandardCharsets.UTF_8);
        JsonNode uploaded = json(send(postDotnetMultipart(skDotnetUrl("files", id), "data.csv", content, SK_DOTNET_UA)));
        assertDotnetFileMetadata(uploaded, "data.csv", content.length);

        JsonNode list = json(send(get(skDotnetUrl("files", id), SK_DOTNET_UA)));
        assertTrue(list.path("value").isArray(), list.toString());
        JsonNode found = null;
        for (JsonNode f : list.get("value")) {
            assertTrue(f.has("name") && f.has("type"), list.toString());
            if ("data.csv".equals(f.path("name").textValue())) {
                found = f;
            }
        }
        assertNotNull(found, list.toString());
        assertDotnetFileMetadata(found, "data.csv", content.length);

        HttpResponse<byte[]> download = send(get(skDotnetUrl("files/" + q("data.csv") + "/content", id), SK_DOTNET_UA));
        assertEquals(200, download.statusCode());
        assertArrayEquals(content, download.body());
    }

    /*
     * Semantic Kernel .NET, the revision of SessionsPythonPlugin.cs that pinned ApiVersion
     * "2024-02-02-preview" (after the first revision, which sent no api-version and used
     * python/uploadFile and python/files, and before the resource contract above).
     * ExecuteCodeAsync posts {"properties": SessionsPythonCodeExecutionProperties} to
     * "python/execute?api-version=2024-02-02-preview" with no identifier in the query: the properties
     * carry it, in declaration order identifier, codeInputType, executionType, timeoutInSeconds (100),
     * pythonCode, the enums written "Inline"/"Synchronous"; the content is StringContent(json, UTF8,
     * "application/json"). It reads GetProperty("status"), "result", "stdout" and "stderr" at the top
     * level of the answer (its test data sessions_python_plugin_code_execution.json is that flat
     * shape, "$id" "1"). UploadFileAsync posts the .NET multipart part "file" to
     * "files/upload?identifier=&api-version=" and deserializes value[0].properties as
     * SessionsRemoteFileMetadata(filename, int size, DateTime? lastModifiedTime).
     * DownloadFileAsync GETs "python/downloadFile?identifier=&filename=&api-version=" and keeps the
     * bytes. ListFilesAsync GETs $"{endpoint}/files?identifier=&api-version=" with the endpoint already
     * ending in "/", so the path has "//files", and reads every value[].properties the same way.
     */
    JsonNode skDotnetPythonExecute(String id, String code) throws Exception {
        ObjectNode properties = JSON.createObjectNode().put("identifier", id).put("codeInputType", "Inline")
                .put("executionType", "Synchronous").put("timeoutInSeconds", 100).put("pythonCode", code);
        ObjectNode body = JSON.createObjectNode();
        body.set("properties", properties);
        JsonNode doc = json(send(HttpRequest.newBuilder(URI.create(base() + "python/execute?api-version=" + LEGACY))
                .header("User-Agent", SK_DOTNET_UA).header("Authorization", AUTH)
                .header("Content-Type", "application/json; charset=utf-8")
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)))));
        for (String field : List.of("status", "result", "stdout", "stderr")) {
            assertTrue(doc.has(field), doc.toString());
        }
        return doc;
    }

    @Test
    void semanticKernelDotnetPythonExecute() throws Exception {
        String id = newIdentifier();
        JsonNode doc = skDotnetPythonExecute(id, "kept = 41\nprint('sk-preview')\n6 * 7");
        assertEquals("Success", doc.get("status").textValue(), doc.toString());
        assertEquals("sk-preview\n", doc.get("stdout").textValue(), doc.toString());
        assertEquals("", doc.get("stderr").textValue(), doc.toString());
        assertEquals(42, doc.get("result").intValue(), doc.toString());
        // The body's identifier named the session: its state is there on the next call.
        assertEquals(42, skDotnetPythonExecute(id, "kept + 1").get("result").intValue());

        byte[] content = "a,b\n1,2\n".getBytes(StandardCharsets.UTF_8);
        JsonNode uploaded = json(send(postDotnetMultipart(legacyUrl("files/upload", id), "data.csv", content,
                SK_DOTNET_UA)));
        assertDotnetMetadata(uploaded.path("value").path(0).path("properties"), "filename", "size", "lastModifiedTime",
                "data.csv", content.length);

        HttpResponse<byte[]> download = send(get(base() + "python/downloadFile?identifier=" + id
                + "&filename=data.csv&api-version=" + LEGACY, SK_DOTNET_UA));
        assertEquals(200, download.statusCode());
        assertArrayEquals(content, download.body());

        JsonNode list = json(send(get(base() + "/files?identifier=" + id + "&api-version=" + LEGACY, SK_DOTNET_UA)));
        assertTrue(list.path("value").isArray() && list.get("value").size() == 1, list.toString());
        assertDotnetMetadata(list.get("value").get(0).path("properties"), "filename", "size", "lastModifiedTime", "data.csv",
                content.length);
    }

    // ---------------------------------------------------------------- Semantic Kernel Python

    /*
     * Semantic Kernel Python,
     * python/semantic_kernel/core_plugins/sessions_python_tool/sessions_python_plugin.py
     * (SESSIONS_API_VERSION "2024-02-02-preview"): _build_url_with_version joins
     * "{endpoint}/{path}?identifier={session_id}&api-version=2024-02-02-preview" (a trailing "/"
     * of the path, as in "code/execute/", is dropped); the User-Agent is
     * "semantic-kernel-python/{version} (Language=Python)". execute_code sends Content-Type
     * application/json and {"properties": settings.model_dump(by_alias)} where settings
     * (sessions_python_settings.py) dumps codeInputType "inline", executionType "synchronous",
     * code, timeoutInSeconds 100 (identifier and sanitizeInput are excluded); it reads
     * response["properties"] and its "status", "result", "stdout", "stderr". upload_file posts
     * httpx files={"file": ("/mnt/data/<name>", data, "application/octet-stream")} to
     * "files/upload" and reads value[0].properties.filename and .size (from_dict in
     * sessions_remote_file_metadata.py); list_files GETs "files" and reads the same two keys of
     * every value[].properties; download_file GETs "files/content/{name}" and keeps the bytes.
     */
    static final String SK_PY_UA = "semantic-kernel-python/1.20.0 (Language=Python)";

    @Test
    void semanticKernelPython() throws Exception {
        String id = newIdentifier();
        JsonNode doc = json(send(postJson(legacyUrl("code/execute", id),
                legacyBody("print('sk-python')\n6 * 7", 100), SK_PY_UA)));
        JsonNode p = doc.get("properties");
        assertNotNull(p, doc.toString());
        assertEquals("Success", p.path("status").textValue(), doc.toString());
        assertEquals("sk-python\n", p.path("stdout").textValue(), doc.toString());
        assertEquals("", p.path("stderr").textValue(), doc.toString());
        assertEquals(42, p.path("result").intValue(), doc.toString());

        byte[] content = "hello from sk python\n".getBytes(StandardCharsets.UTF_8);
        JsonNode uploaded = json(send(postPythonMultipart(legacyUrl("files/upload", id), "/mnt/data/skpy.txt", content,
                SK_PY_UA)));
        JsonNode first = uploaded.path("value").path(0).path("properties");
        assertTrue(first.path("filename").isTextual(), uploaded.toString());
        assertTrue(first.path("filename").textValue().endsWith("skpy.txt"), uploaded.toString());
        assertEquals(content.length, first.path("size").longValue(), uploaded.toString());

        JsonNode list = json(send(get(legacyUrl("files", id), SK_PY_UA)));
        List<String> names = new ArrayList<>();
        for (JsonNode entry : list.path("value")) {
            JsonNode props = entry.get("properties");
            assertNotNull(props, list.toString());
            assertTrue(props.path("filename").isTextual() && props.path("size").isIntegralNumber(), list.toString());
            names.add(props.get("filename").textValue());
        }
        assertTrue(names.contains("skpy.txt"), list.toString());

        HttpResponse<byte[]> download = send(get(legacyUrl("files/content/skpy.txt", id), SK_PY_UA));
        assertEquals(200, download.statusCode());
        assertArrayEquals(content, download.body());
    }

    /*
     * Semantic Kernel Python's upload after an execution (issue 20): execute_code sets
     * "Content-Type: application/json" on the plugin's shared httpx AsyncClient, and upload_file then
     * posts files={"file": ("/mnt/data/<name>", data, "application/octet-stream")} through the same
     * client. httpx only sets a header of its own when the client has none of that name, so the
     * multipart body (boundary: 32 hex digits, os.urandom(16).hex()) goes out labelled
     * "application/json", without its boundary. The body's first line is the boundary delimiter.
     */
    static HttpRequest.Builder postHttpxMultipartLabelledJson(String url, String filename, byte[] content) {
        String boundary = HexFormat.of().formatHex(UUID.randomUUID().toString().getBytes(StandardCharsets.US_ASCII), 0, 16);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + filename
                + "\"\r\nContent-Type: application/octet-stream\r\n\r\n").getBytes(StandardCharsets.UTF_8));
        out.writeBytes(content);
        out.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return HttpRequest.newBuilder(URI.create(url)).header("Authorization", AUTH).header("User-Agent", SK_PY_UA)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(out.toByteArray()));
    }

    @Test
    void semanticKernelPythonUploadAfterExecute() throws Exception {
        String id = newIdentifier();
        JsonNode doc = json(send(postJson(legacyUrl("code/execute", id), legacyBody("print('first')", 100), SK_PY_UA)));
        assertEquals("Success", doc.at("/properties/status").textValue(), doc.toString());

        byte[] content = "a,b\r\n--not-a-boundary\r\n\u00e9\n".getBytes(StandardCharsets.UTF_8);
        JsonNode uploaded = json(send(postHttpxMultipartLabelledJson(legacyUrl("files/upload", id), "/mnt/data/sk.csv",
                content)));
        JsonNode first = uploaded.path("value").path(0).path("properties");
        assertEquals("sk.csv", first.path("filename").textValue(), uploaded.toString());
        assertEquals(content.length, first.path("size").longValue(), uploaded.toString());
        HttpResponse<byte[]> download = send(get(legacyUrl("files/content/sk.csv", id), SK_PY_UA));
        assertEquals(200, download.statusCode());
        assertArrayEquals(content, download.body());
        JsonNode read = json(send(postJson(legacyUrl("code/execute", id),
                legacyBody("open('/mnt/data/sk.csv', encoding='utf-8', newline='').read()", 100), SK_PY_UA)));
        assertEquals(new String(content, StandardCharsets.UTF_8), read.at("/properties/result").textValue(), read.toString());

        // The resource contract's POST files takes the same mislabelled body.
        JsonNode resource = json(send(postHttpxMultipartLabelledJson(skDotnetUrl("files", id), "sk2.csv", content)));
        assertEquals("sk2.csv", resource.path("name").textValue(), resource.toString());
        assertEquals(content.length, resource.path("sizeInBytes").longValue(), resource.toString());

        // A body that is not multipart under a wrong label is still refused, in Azure's shape.
        HttpResponse<byte[]> json = send(HttpRequest.newBuilder(URI.create(legacyUrl("files/upload", id)))
                .header("Authorization", AUTH).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"file\":\"x\"}")));
        assertAzureError(json, 415, "UnsupportedMediaType");
        // A multipart body without the part 'file', or cut short, is the client's mistake.
        String other = "--b0undary\r\nContent-Disposition: form-data; name=\"other\"; filename=\"o.txt\"\r\n\r\nx\r\n--b0undary--\r\n";
        assertAzureError(send(HttpRequest.newBuilder(URI.create(legacyUrl("files/upload", id))).header("Authorization", AUTH)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(other))), 400, "MissingFile");
        assertAzureError(send(HttpRequest.newBuilder(URI.create(legacyUrl("files/upload", id))).header("Authorization", AUTH)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.txt\"\r\n\r\nhel"))),
                400, "InvalidRequestBody");
    }

    static void assertAzureError(HttpResponse<byte[]> response, int status, String code) throws Exception {
        String body = new String(response.body(), StandardCharsets.UTF_8);
        assertEquals(status, response.statusCode(), body);
        assertEquals(code, response.headers().firstValue("x-ms-error-code").orElse(null), body);
        assertTrue(response.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), body);
        JsonNode doc = JSON.readTree(body);
        assertEquals(Set.of("error"), PoolApiTest.names(doc), body);
        assertEquals(Set.of("code", "message"), PoolApiTest.names(doc.get("error")), body);
        assertEquals(code, doc.at("/error/code").textValue(), body);
        assertTrue(doc.at("/error/message").isTextual() && !doc.at("/error/message").textValue().isBlank(), body);
    }

    // ---------------------------------------------------------------- LlamaIndex

    /*
     * LlamaIndex, llama-index-integrations/tools/llama-index-tools-azure-code-interpreter/
     * llama_index/tools/azure_code_interpreter/base.py: _build_url makes
     * "{endpoint}/{path}?identifier={quoted session id}&api-version=2024-02-02-preview"; the
     * User-Agent is "llamaindex-azure-code-interpreter/{version} (Language=Python)" (0.0.0 when the
     * package metadata is missing) and is sent only by code_interpreter. code_interpreter posts
     * {"properties": {"codeInputType": "inline", "executionType": "synchronous", "code": ...}} with
     * the code sanitized and ending in "\n", and reads response["properties"]["result"] (if that is
     * a dict it looks at base64_data/format). upload_file posts requests files=[("file",
     * ("/mnt/data/<name>", data, "application/octet-stream"))] to "files/upload" without a
     * User-Agent and maps every value[].properties through RemoteFileMetadata.from_dict, which reads
     * "filename" and "size". list_files reads the same; download_file_to_local strips "/mnt/data/"
     * and GETs "files/content/{name}".
     */
    static final String LLAMA_UA = "llamaindex-azure-code-interpreter/0.0.0 (Language=Python)";

    @Test
    void llamaIndex() throws Exception {
        String id = newIdentifier();
        String url = base() + "code/execute?identifier=" + q(id) + "&api-version=" + LEGACY;
        JsonNode doc = json(send(postJson(url, legacyBody("print('llama')\n6 * 7\n", null), LLAMA_UA)));
        assertTrue(doc.has("properties") && doc.get("properties").has("result"), doc.toString());
        assertEquals(42, doc.at("/properties/result").intValue(), doc.toString());
        assertEquals("llama\n", doc.at("/properties/stdout").textValue(), doc.toString());

        byte[] content = "x\n".getBytes(StandardCharsets.UTF_8);
        String upload = base() + "files/upload?identifier=" + q(id) + "&api-version=" + LEGACY;
        JsonNode uploaded = json(send(postPythonMultipart(upload, "/mnt/data/llama.txt", content, null)));
        boolean seen = false;
        for (JsonNode entry : uploaded.path("value")) {
            JsonNode props = entry.get("properties");
            assertTrue(props != null && props.path("filename").isTextual() && props.path("size").isIntegralNumber(),
                    uploaded.toString());
            seen |= props.get("filename").textValue().endsWith("llama.txt") && props.get("size").longValue() == content.length;
        }
        assertTrue(seen, uploaded.toString());

        JsonNode list = json(send(get(base() + "files?identifier=" + q(id) + "&api-version=" + LEGACY, null)));
        assertTrue(list.path("value").isArray() && list.get("value").size() >= 1, list.toString());
        for (JsonNode entry : list.get("value")) {
            assertTrue(entry.at("/properties/filename").isTextual() && entry.at("/properties/size").isIntegralNumber(),
                    list.toString());
        }

        HttpResponse<byte[]> download = send(
                get(base() + "files/content/llama.txt?identifier=" + q(id) + "&api-version=" + LEGACY, null));
        assertEquals(200, download.statusCode());
        assertArrayEquals(content, download.body());
    }

    // ---------------------------------------------------------------- AutoGen

    /*
     * AutoGen, python/packages/autogen-ext/src/autogen_ext/code_executors/azure/
     * _azure_container_code_executor.py (ACADynamicSessionsCodeExecutor, _AZURE_API_VER
     * "2024-02-02-preview"): _construct_url makes "{endpoint}/{path}?api-version=...&identifier=
     * {uuid4}" (api-version first). Requests carry only Authorization (aiohttp's own User-Agent),
     * execution adds Content-Type application/json. _execute_code_dont_check_setup posts
     * {"properties": {"codeInputType": "inline", "executionType": "synchronous", "code": ...}} to
     * "code/execute", takes data["properties"], appends .get("stderr", "") + .get("stdout", ""),
     * then: "Success" in status -> appends str(result); "Failure" in status -> exit code 1.
     * execute_code_blocks first runs a package listing through pkg_resources (a non-zero exit is a
     * ValueError) and "import os; os.chdir('/mnt/data')" (a non-zero exit is a ValueError).
     * upload_files posts aiohttp FormData field "file" with filename = basename and content type
     * application/octet-stream to "files/upload" and only checks the status; get_file_list GETs
     * "files" and collects value[].properties.filename; download_files requires the name to be in
     * that list and GETs "files/content/{file}".
     */
    static final String AIOHTTP_UA = "Python/3.12 aiohttp/3.10.10";

    String autogenUrl(String path, String id) {
        return base() + path + "?api-version=" + LEGACY + "&identifier=" + id;
    }

    JsonNode autogenExecute(String id, String code) throws Exception {
        JsonNode doc = json(send(postJson(autogenUrl("code/execute", id), legacyBody(code, null), AIOHTTP_UA)));
        JsonNode p = doc.get("properties");
        assertNotNull(p, doc.toString());
        assertTrue(p.path("status").isTextual() && p.has("result"), doc.toString());
        return p;
    }

    /**
     * get_available_packages: output = stderr + stdout + str(result), then
     * {@code {pkg.strip(" '") for pkg in output.strip("[]").split(",\n")}} — right only when the
     * result is the list's text form with one element per line, as a Jupyter kernel shows it.
     */
    static Set<String> autogenPackages(JsonNode properties) {
        JsonNode result = properties.get("result");
        String output = properties.path("stderr").asText("") + properties.path("stdout").asText("")
                + (result.isTextual() ? result.textValue() : result.toString());
        Set<String> names = new HashSet<>();
        for (String item : strip(output, "[]").split(",\n")) {
            names.add(strip(item, " '"));
        }
        return names;
    }

    /** Python's {@code str.strip(chars)}. */
    static String strip(String s, String chars) {
        int from = 0;
        int to = s.length();
        while (from < to && chars.indexOf(s.charAt(from)) >= 0) {
            from++;
        }
        while (to > from && chars.indexOf(s.charAt(to - 1)) >= 0) {
            to--;
        }
        return s.substring(from, to);
    }

    @Test
    void autogen() throws Exception {
        String id = newIdentifier();
        // The setup steps run before any user code.
        String packages = "\nimport pkg_resources\n[d.project_name for d in pkg_resources.working_set]\n";
        JsonNode pkgs = autogenExecute(id, packages);
        assertTrue(pkgs.get("status").textValue().contains("Success"), "AutoGen's package probe fails: " + pkgs);
        Set<String> available = autogenPackages(pkgs);
        assertTrue(available.containsAll(Set.of("pip", "numpy", "pandas", "matplotlib")), available.toString());
        for (String name : available) {
            assertTrue(name.matches("[A-Za-z0-9][A-Za-z0-9._-]*"), "a package name as AutoGen parses it: [" + name + "]");
        }
        JsonNode cwd = autogenExecute(id, "import os; os.chdir('/mnt/data')");
        assertTrue(cwd.get("status").textValue().contains("Success"), cwd.toString());

        byte[] content = "autogen data\n".getBytes(StandardCharsets.UTF_8);
        HttpResponse<byte[]> up = send(postPythonMultipart(autogenUrl("files/upload", id), "ag.txt", content, AIOHTTP_UA));
        assertTrue(up.statusCode() / 100 == 2, new String(up.body(), StandardCharsets.UTF_8));

        // After the chdir, user code sees uploaded files by their plain name.
        JsonNode read = autogenExecute(id, "print(open('ag.txt').read(), end='')");
        assertTrue(read.get("status").textValue().contains("Success"), read.toString());
        assertEquals("autogen data\n", read.path("stdout").textValue(), read.toString());

        JsonNode failed = autogenExecute(id, "raise RuntimeError('x')");
        assertTrue(failed.get("status").textValue().contains("Failure"), failed.toString());
        assertTrue(failed.path("stderr").textValue().contains("RuntimeError"), failed.toString());

        JsonNode list = json(send(get(autogenUrl("files", id), AIOHTTP_UA)));
        List<String> names = new ArrayList<>();
        list.path("value").forEach(v -> names.add(v.path("properties").path("filename").textValue()));
        assertTrue(names.contains("ag.txt"), list.toString());

        HttpResponse<byte[]> download = send(get(autogenUrl("files/content/ag.txt", id), AIOHTTP_UA));
        assertEquals(200, download.statusCode());
        assertArrayEquals(content, download.body());
    }

    /*
     * AutoGen's restart() (issue 20): the executor's next cell is "\n\n", a blank cell, which a
     * Jupyter kernel runs without complaint; a non-"Success" status would fail the restart.
     */
    @Test
    void autogenRestartRunsABlankCell() throws Exception {
        String id = newIdentifier();
        assertEquals("Success", autogenExecute(id, "kept = 7").get("status").textValue());
        JsonNode blank = autogenExecute(id, "\n\n");
        assertEquals("Success", blank.get("status").textValue(), blank.toString());
        assertEquals("", blank.get("stdout").textValue(), blank.toString());
        assertEquals("", blank.get("stderr").textValue(), blank.toString());
        assertEquals("", blank.get("result").textValue(), "an empty cell has no value: " + blank);
        // The session is untouched by it.
        assertEquals(7, autogenExecute(id, "kept").get("result").intValue());
        assertEquals("Success", autogenExecute(id, "").get("status").textValue(), "an empty string is an empty cell too");

        // The resource contract runs a blank cell the same way.
        ObjectNode body = JSON.createObjectNode().put("codeInputType", "Inline").put("executionType", "Synchronous")
                .put("timeoutInSeconds", 100).put("code", "\n\n");
        JsonNode doc = json(send(postJson(skDotnetUrl("executions", id), body, SK_DOTNET_UA)));
        assertEquals("Succeeded", doc.path("status").textValue(), doc.toString());
        assertEquals("", doc.at("/result/executionResult").textValue(), doc.toString());
        assertEquals("", doc.at("/result/stderr").textValue(), doc.toString());

        // Still refused: no code at all.
        HttpResponse<byte[]> none = send(HttpRequest.newBuilder(URI.create(autogenUrl("code/execute", id)))
                .header("Authorization", AUTH).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"properties\":{\"codeInputType\":\"inline\"}}")));
        assertAzureError(none, 400, "InvalidRequestBody");
    }

    // ---------------------------------------------------------------- image results

    /*
     * A figure as the result, as the Python clients read it. LangChain's SessionsPythonREPLTool._run
     * deep-copies properties["result"] and, when it is a dict with type == "image" and a
     * "base64_data" key, pops base64_data before handing the result to the model. LlamaIndex's
     * AzureCodeInterpreterToolSpec.code_interpreter does the same check (type "image" and
     * "base64_data" in it) and keeps the image apart. Both use the legacy contract's
     * properties.result; the resource contract has it in result.executionResult.
     */
    @Test
    void imageResults() throws Exception {
        String id = newIdentifier();
        String code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\n";
        String url = base() + "code/execute?identifier=" + q(id) + "&api-version=" + LEGACY;
        for (String userAgent : new String[] { null, LLAMA_UA }) {
            JsonNode properties = json(send(postJson(url, legacyBody(code, null), userAgent))).get("properties");
            assertEquals("Success", properties.get("status").textValue(), properties.toString());
            JsonNode result = properties.get("result");
            assertTrue(result.isObject() && "image".equals(result.path("type").textValue())
                    && result.has("base64_data"), "the readers' check: " + result);
            assertEquals("png", result.get("format").textValue());
            io.sandstream.model.Png.assertPng(result.get("base64_data").textValue(), 640, 480);
        }
    }

    // ---------------------------------------------------------------- LangChain4j

    /*
     * LangChain4j, code-execution-engines/langchain4j-code-execution-engine-azure-acads/src/main/java/
     * dev/langchain4j/code/azure/acads/SessionsREPLTool.java (module at 1.12.2-beta22). Its artifact,
     * dev.langchain4j:langchain4j-code-execution-engine-azure-acads, is listed in langchain4j-bom but
     * not served by the Maven Central this build reaches, so its requests are replayed here.
     * API_VERSION "2024-02-02-preview"; buildUrl makes "{endpoint}/{path}?identifier=
     * {URLEncoder.encode(sessionId)}&api-version=2024-02-02-preview", adding the "/" when missing.
     * executeCode (the code sanitized: leading whitespace, backticks and "python", trailing whitespace
     * and backticks removed, so no final newline) posts Jackson's rendering of a HashMap
     * {"properties": {"codeInputType": "inline", "executionType": "synchronous", "code": ...}}
     * through langchain4j's JDK HTTP client with Authorization, Content-Type application/json and
     * User-Agent "langchain4j-azure-dynamic-sessions"; a non-2xx answer is an HttpException. It
     * returns response["properties"] (null unless an object), from which use() reads "result"
     * (dropping base64_data of an image result), "stdout" and "stderr". DefaultFileUploader posts with
     * a plain java.net.http client (its own User-Agent) a body framed by hand: boundary "----" +
     * currentTimeMillis, unquoted in the header, one part name="file"; filename="<local file name>"
     * whose Content-Type is application/json whatever the file; it reads value[0].properties.filename
     * (a String cast) and .size (a Number cast). DefaultFileDownloader GETs "files/content/" + the
     * remote path as given and base64-encodes the body read as UTF-8 text; for a missing file it
     * checks the status, but the JDK client has already thrown on the 404, and its "File not found"
     * answer then depends on the error body containing "404" (ours does not: the tool throws).
     * DefaultFileLister GETs "files" and joins value[].properties.filename, "No files were found"
     * when value is empty.
     */
    static final String LC4J_UA = "langchain4j-azure-dynamic-sessions";

    String langchain4jUrl(String path, String id) {
        return base() + path + "?identifier=" + q(id) + "&api-version=" + LEGACY;
    }

    @Test
    void langchain4j() throws Exception {
        String id = newIdentifier();
        Map<String, Object> properties = new HashMap<>();
        properties.put("codeInputType", "inline");
        properties.put("executionType", "synchronous");
        properties.put("code", "print('lc4j')\n6 * 7");
        Map<String, Object> body = new HashMap<>();
        body.put("properties", properties);
        HttpRequest.Builder execute = HttpRequest.newBuilder(URI.create(langchain4jUrl("code/execute", id)))
                .header("Authorization", AUTH).header("Content-Type", "application/json").header("User-Agent", LC4J_UA)
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
        JsonNode doc = json(send(execute));
        JsonNode p = doc.get("properties");
        assertTrue(p != null && p.isObject() && p.has("result") && p.has("stdout") && p.has("stderr"), doc.toString());
        assertEquals(42, p.get("result").intValue(), doc.toString());
        assertEquals("lc4j\n", p.get("stdout").textValue(), doc.toString());
        assertEquals("", p.get("stderr").textValue(), doc.toString());

        byte[] content = "langchain4j data\n".getBytes(StandardCharsets.UTF_8);
        String boundary = "----" + System.currentTimeMillis();
        ByteArrayOutputStream multipart = new ByteArrayOutputStream();
        multipart.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lc4j.txt\""
                + "\r\nContent-Type: application/json\r\n\r\n").getBytes(StandardCharsets.UTF_8));
        multipart.writeBytes(content);
        multipart.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        JsonNode uploaded = json(send(HttpRequest.newBuilder(URI.create(langchain4jUrl("files/upload", id)))
                .header("Authorization", AUTH).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(multipart.toByteArray()))));
        JsonNode first = uploaded.path("value").path(0).path("properties");
        assertTrue(first.path("filename").isTextual() && first.path("size").isNumber(), uploaded.toString());
        assertEquals("lc4j.txt", first.get("filename").textValue(), uploaded.toString());
        assertEquals(content.length, first.get("size").longValue(), uploaded.toString());

        for (String remotePath : List.of("lc4j.txt", "/mnt/data/lc4j.txt")) {
            HttpResponse<byte[]> download = send(get(langchain4jUrl("files/content/" + remotePath, id), null));
            assertEquals(200, download.statusCode(), remotePath);
            assertArrayEquals(content, download.body(), remotePath);
        }
        assertEquals(404, send(get(langchain4jUrl("files/content/missing.txt", id), null)).statusCode());

        JsonNode list = json(send(get(langchain4jUrl("files", id), null)));
        List<String> names = new ArrayList<>();
        list.path("value").forEach(v -> names.add(v.path("properties").path("filename").textValue()));
        assertEquals(List.of("lc4j.txt"), names, list.toString());
        JsonNode none = json(send(get(langchain4jUrl("files", newIdentifier()), null)));
        assertTrue(none.path("value").isArray() && none.get("value").isEmpty(), none.toString());
    }
    // ---------------------------------------------------------------- every error under /pools/ in Azure's shape

    /*
     * Azure SDKs and the clients above read {"error":{"code","message"}} and x-ms-error-code on any
     * failure of the data plane, the framework's own refusals included (issue 20). Everywhere else
     * the service answers problem JSON (API.md).
     */
    @Test
    void frameworkErrorsUnderPoolsAreAzureErrors() throws Exception {
        String id = newIdentifier();
        // An unknown path under a pool, and under /pools itself.
        assertAzureError(send(get(base() + "no/such/path?api-version=" + LEGACY + "&identifier=" + id, null)), 404,
                "NotFound");
        assertAzureError(send(get(base().replace("/pools/python/", "/pools") + "?api-version=" + LEGACY, null)), 404,
                "NotFound");
        // A method the path does not take.
        HttpResponse<byte[]> put = send(HttpRequest.newBuilder(URI.create(base() + "session?api-version=2025-10-02-preview"
                + "&identifier=" + id)).header("Authorization", AUTH).PUT(HttpRequest.BodyPublishers.ofString("{}")));
        assertAzureError(put, 405, "MethodNotAllowed");
        // A media type the upload does not take (and whose body is not multipart either).
        assertAzureError(send(HttpRequest.newBuilder(URI.create(legacyUrl("files/upload", id))).header("Authorization", AUTH)
                .header("Content-Type", "text/plain").POST(HttpRequest.BodyPublishers.ofString("just text"))), 415,
                "UnsupportedMediaType");
        // Malformed JSON on both contracts.
        for (String path : List.of("code/execute?api-version=" + LEGACY, "executions?api-version=2025-10-02-preview")) {
            assertAzureError(send(HttpRequest.newBuilder(URI.create(base() + path + "&identifier=" + id))
                    .header("Authorization", AUTH).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"properties\": {"))), 400, "InvalidRequestBody");
        }
        // A body over the transport's limit, refused from its Content-Length before it is read.
        URI origin = URI.create(base());
        io.sandstream.edge.RawHttp.Answer tooLarge = io.sandstream.edge.RawHttp.headOnly(origin,
                io.sandstream.edge.RawHttp.head("POST", origin.getPath() + "files/upload?api-version=" + LEGACY
                        + "&identifier=" + id, Map.of("Authorization", AUTH, "Content-Type",
                                "multipart/form-data; boundary=b", "Content-Length", Integer.toString(64 * 1024 * 1024))));
        assertEquals(413, tooLarge.status(), tooLarge.toString());
        assertEquals("RequestEntityTooLarge", tooLarge.header("x-ms-error-code"), tooLarge.toString());
        JsonNode large = JSON.readTree(tooLarge.body());
        assertEquals("RequestEntityTooLarge", large.at("/error/code").textValue(), tooLarge.toString());
        assertTrue(large.at("/error/message").isTextual(), tooLarge.toString());
        // Below the router: too many header fields (the HTTP edge's own refusal).
        HttpRequest.Builder crowded = HttpRequest.newBuilder(URI.create(legacyUrl("files", id))).header("Authorization", AUTH);
        for (int i = 0; i < 80; i++) {
            crowded.header("X-Filler-" + i, "x");
        }
        assertAzureError(send(crowded.GET()), 431, "RequestHeaderFieldsTooLarge");

        // Outside /pools/ the same refusals stay problem JSON.
        HttpResponse<byte[]> elsewhere = send(HttpRequest.newBuilder(URI.create(base().replace("/pools/python/", "/executions")))
                .header("Authorization", AUTH).PUT(HttpRequest.BodyPublishers.ofString("{}")));
        assertEquals(405, elsewhere.statusCode());
        assertTrue(elsewhere.headers().firstValue("Content-Type").orElse("").startsWith("application/problem+json"),
                elsewhere.headers().toString());
        assertTrue(elsewhere.headers().firstValue("x-ms-error-code").isEmpty());
    }

    // ---------------------------------------------------------------- resource-contract shapes, per the spec

    /*
     * Field names and types from the published REST spec, Azure/azure-rest-api-specs:
     * specification/app/data-plane/Microsoft.App.DynamicSessions/preview/2025-02-02-preview/DynamicSessions.json
     * and .../preview/2025-10-02-preview/DynamicSessions.json (identical here): GET session answers
     * "Session" {identifier, createdAt, lastAccessedAt, expireAt, etag}, every field required, the
     * times "format": "date-time", etag a string (Azure.Core.eTag, "the underlying container ID");
     * GET listSessions takes "skip" (int32, the offset) and answers "SessionsListResponse"
     * {sessions: [Session] (required), nextLink (uri, optional)}. The example
     * .../preview/2025-02-02-preview/examples/SessionManagement_Get.json shows the same fields.
     */
    static final Set<String> SPEC_SESSION = Set.of("identifier", "createdAt", "lastAccessedAt", "expireAt", "etag");

    static void assertSpecSession(JsonNode session, String identifier) {
        assertEquals(SPEC_SESSION, PoolApiTest.names(session), session.toString());
        assertEquals(identifier, session.get("identifier").textValue(), session.toString());
        for (String time : List.of("createdAt", "lastAccessedAt", "expireAt")) {
            assertNotNull(OffsetDateTime.parse(session.get(time).textValue()), time + " in " + session);
        }
        assertTrue(session.get("etag").isTextual() && !session.get("etag").textValue().isBlank(), session.toString());
        assertTrue(!OffsetDateTime.parse(session.get("createdAt").textValue())
                .isAfter(OffsetDateTime.parse(session.get("lastAccessedAt").textValue())), session.toString());
        assertTrue(OffsetDateTime.parse(session.get("expireAt").textValue())
                .isAfter(OffsetDateTime.parse(session.get("lastAccessedAt").textValue())), session.toString());
    }

    @Test
    void sessionAndListSessionsHaveTheSpecShapes() throws Exception {
        for (String version : List.of("2025-02-02-preview", "2025-10-02-preview")) {
            String first = newIdentifier();
            String second = newIdentifier();
            String url = base() + "executions?api-version=" + version + "&identifier=";
            ObjectNode body = JSON.createObjectNode().put("codeInputType", "Inline").put("executionType", "Synchronous")
                    .put("timeoutInSeconds", 60).put("code", "1");
            json(send(postJson(url + first, body, null)));
            json(send(postJson(url + second, body, null)));

            JsonNode session = json(send(get(base() + "session?api-version=" + version + "&identifier=" + first, null)));
            assertSpecSession(session, first);
            assertEquals(session.get("etag"), json(send(get(base() + "session?api-version=" + version + "&identifier=" + first,
                    null))).get("etag"), "the same session keeps its etag");

            // test-reader is the operator (prefix *): its listing adds each session's tenant, ours.
            JsonNode list = json(send(get(base() + "listSessions?api-version=" + version, null)));
            assertTrue(Set.of("sessions", "nextLink").containsAll(PoolApiTest.names(list)), list.toString());
            assertTrue(list.get("sessions").isArray(), list.toString());
            int total = list.get("sessions").size();
            Map<String, JsonNode> byId = new HashMap<>();
            for (JsonNode s : list.get("sessions")) {
                assertTrue(PoolApiTest.names(s).containsAll(SPEC_SESSION), s.toString());
                assertTrue(s.get("tenant").isTextual(), s.toString());
                byId.put(s.get("identifier").textValue(), s);
            }
            assertTrue(byId.containsKey(first) && byId.containsKey(second), list.toString());
            assertEquals(session.get("etag"), byId.get(first).get("etag"), list.toString());
            assertTrue(!list.has("nextLink") || list.get("nextLink").isTextual(), list.toString());

            // skip is an offset into one stable order.
            JsonNode rest = json(send(get(base() + "listSessions?api-version=" + version + "&skip=1", null)));
            assertEquals(total - 1, rest.get("sessions").size(), rest.toString());
            assertEquals(list.get("sessions").get(1).get("identifier"), rest.get("sessions").get(0).get("identifier"));
            JsonNode past = json(send(get(base() + "listSessions?api-version=" + version + "&skip=" + total, null)));
            assertTrue(past.get("sessions").isArray() && past.get("sessions").isEmpty(), past.toString());
            assertTrue(!past.has("nextLink"), past.toString());
            assertAzureError(send(get(base() + "listSessions?api-version=" + version + "&skip=-1", null)), 400, "InvalidSkip");
            assertAzureError(send(get(base() + "listSessions?api-version=" + version + "&skip=ten", null)), 400, "InvalidSkip");
        }
    }
}
