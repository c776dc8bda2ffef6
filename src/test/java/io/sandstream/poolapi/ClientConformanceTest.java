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
import java.util.List;
import java.util.UUID;

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

    /** The pool management endpoint as a client is configured with it (trailing slash). */
    String base() {
        String s = endpoint.toString();
        return s.endsWith("/") ? s : s + "/";
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

    static void assertDotnetFileMetadata(JsonNode file, String name, long size) {
        assertEquals(name, file.path("name").textValue(), file.toString());
        assertTrue(file.path("sizeInBytes").canConvertToInt(), file.toString());
        assertEquals(size, file.path("sizeInBytes").longValue(), file.toString());
        assertTrue(file.path("type").isTextual(), file.toString());
        JsonNode modified = file.get("lastModifiedAt");
        if (modified != null && !modified.isNull()) {
            // System.Text.Json reads DateTime from ISO 8601 text.
            assertNotNull(OffsetDateTime.parse(modified.textValue()), file.toString());
        }
        JsonNode contentType = file.get("contentType");
        assertTrue(contentType == null || contentType.isNull() || contentType.isTextual(), file.toString());
    }

    @Test
    void semanticKernelDotnet() throws Exception {
        String id = UUID.randomUUID().toString();
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

    String skPythonUrl(String path, String id) {
        return base() + path + "?identifier=" + id + "&api-version=" + LEGACY;
    }

    @Test
    void semanticKernelPython() throws Exception {
        String id = UUID.randomUUID().toString();
        JsonNode doc = json(send(postJson(skPythonUrl("code/execute", id),
                legacyBody("print('sk-python')\n6 * 7", 100), SK_PY_UA)));
        JsonNode p = doc.get("properties");
        assertNotNull(p, doc.toString());
        assertEquals("Success", p.path("status").textValue(), doc.toString());
        assertEquals("sk-python\n", p.path("stdout").textValue(), doc.toString());
        assertEquals("", p.path("stderr").textValue(), doc.toString());
        assertEquals(42, p.path("result").intValue(), doc.toString());

        byte[] content = "hello from sk python\n".getBytes(StandardCharsets.UTF_8);
        JsonNode uploaded = json(send(postPythonMultipart(skPythonUrl("files/upload", id), "/mnt/data/skpy.txt", content,
                SK_PY_UA)));
        JsonNode first = uploaded.path("value").path(0).path("properties");
        assertTrue(first.path("filename").isTextual(), uploaded.toString());
        assertTrue(first.path("filename").textValue().endsWith("skpy.txt"), uploaded.toString());
        assertEquals(content.length, first.path("size").longValue(), uploaded.toString());

        JsonNode list = json(send(get(skPythonUrl("files", id), SK_PY_UA)));
        List<String> names = new ArrayList<>();
        for (JsonNode entry : list.path("value")) {
            JsonNode props = entry.get("properties");
            assertNotNull(props, list.toString());
            assertTrue(props.path("filename").isTextual() && props.path("size").isIntegralNumber(), list.toString());
            names.add(props.get("filename").textValue());
        }
        assertTrue(names.contains("skpy.txt"), list.toString());

        HttpResponse<byte[]> download = send(get(skPythonUrl("files/content/skpy.txt", id), SK_PY_UA));
        assertEquals(200, download.statusCode());
        assertArrayEquals(content, download.body());
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
        String id = UUID.randomUUID().toString();
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

    @Test
    void autogen() throws Exception {
        String id = UUID.randomUUID().toString();
        // The setup steps run before any user code.
        String packages = "\nimport pkg_resources\n[d.project_name for d in pkg_resources.working_set]\n";
        JsonNode pkgs = autogenExecute(id, packages);
        assertTrue(pkgs.get("status").textValue().contains("Success"), "AutoGen's package probe fails: " + pkgs);
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
}
