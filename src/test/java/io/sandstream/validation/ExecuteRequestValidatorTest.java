package io.sandstream.validation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.config.TestConfigs;
import io.sandstream.model.ExecuteRequest;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.problem.Problem.FieldError;

class ExecuteRequestValidatorTest {

    private final ExecuteRequestValidator validator = new ExecuteRequestValidator(TestConfigs.sandstream(Map.of(
            "sandstream.execution.max-files", "2", "sandstream.execution.max-files-bytes", "10",
            "sandstream.pools.python.language", "python", "sandstream.pools.javascript.language", "javascript")));
    private final ObjectMapper mapper = new ObjectMapper();

    private ExecuteRequestValidator.Result validate(String json) throws Exception {
        JsonNode node = mapper.readTree(json);
        return validator.validate(node, "/data");
    }

    private static java.util.List<String> pointers(ExecuteRequestValidator.Result result) {
        return result.errors().stream().map(FieldError::pointer).toList();
    }

    @Test
    void defaultsApplyToAMinimalRequest() throws Exception {
        ExecuteRequest request = validate("{\"code\":\"print('hello')\"}").request();
        assertEquals(Language.PYTHON, request.language());
        assertEquals(30, request.timeoutSeconds());
        assertEquals(Optional.empty(), request.sessionId());
        assertEquals(Optional.empty(), request.priority());
        assertTrue(request.files().isEmpty());
    }

    @Test
    void theFullContractExampleIsAccepted() throws Exception {
        ExecuteRequest request = validate("""
                {"code":"print('hello')","language":"javascript","sessionId":"user-42","timeoutSeconds":220,
                 "priority":"high","files":[{"name":"in.csv","contentBase64":"YSxi\\nCg=="}],"unknown":true}""").request();
        assertEquals(Language.JAVASCRIPT, request.language());
        assertEquals("user-42", request.sessionId().orElseThrow());
        assertEquals(220, request.timeoutSeconds());
        assertEquals(Priority.HIGH, request.priority().orElseThrow());
        assertArrayEquals("a,b\n".getBytes(StandardCharsets.UTF_8), request.files().get(0).content());
    }

    @Test
    void everyProblemIsReportedAtOnce() throws Exception {
        ExecuteRequestValidator.Result result = validate("""
                {"code":"","language":"ruby","sessionId":"a b","timeoutSeconds":0,"priority":3,
                 "files":[{"name":"..","contentBase64":"x"},{"contentBase64":"YQ=="}]}""");
        assertFalse(result.valid());
        assertNull(result.request());
        assertEquals(java.util.List.of("/data/code", "/data/language", "/data/sessionId", "/data/timeoutSeconds",
                "/data/priority", "/data/files/0/name", "/data/files/0/contentBase64", "/data/files/1/name"), pointers(result));
    }

    @Test
    void theLanguagesAreThoseTheConfiguredPoolsRun() throws Exception {
        ExecuteRequestValidator onlyAca = new ExecuteRequestValidator(TestConfigs.sandstream(Map.of(
                "sandstream.pools.rb.language", "Ruby", "sandstream.aca-pools.js.endpoint", "http://127.0.0.1:9/",
                "sandstream.aca-pools.js.language", "javascript")));
        assertEquals(new Language("ruby"), onlyAca.validate(mapper.readTree("{\"code\":\"1\",\"language\":\"RUBY\"}"), "")
                .request().language());
        assertEquals(Language.JAVASCRIPT, onlyAca.validate(mapper.readTree("{\"code\":\"1\",\"language\":\"javascript\"}"), "")
                .request().language());
        // python, the default, is refused too when no pool runs it
        for (String data : java.util.List.of("{\"code\":\"1\"}", "{\"code\":\"1\",\"language\":\"python\"}",
                "{\"code\":\"1\",\"language\":\"c c\"}", "{\"code\":\"1\",\"language\":7}")) {
            ExecuteRequestValidator.Result result = onlyAca.validate(mapper.readTree(data), "");
            assertEquals(java.util.List.of(new FieldError("/language", "must be a language a configured pool runs: javascript, ruby")),
                    result.errors(), data);
        }
    }

    @Test
    void timeoutBoundsAndTypes() throws Exception {
        assertTrue(validate("{\"code\":\"1\",\"timeoutSeconds\":1}").valid());
        assertFalse(validate("{\"code\":\"1\",\"timeoutSeconds\":221}").valid());
        assertFalse(validate("{\"code\":\"1\",\"timeoutSeconds\":2.5}").valid());
        assertFalse(validate("{\"code\":\"1\",\"timeoutSeconds\":\"30\"}").valid());
        assertTrue(validate("{\"code\":\"1\",\"timeoutSeconds\":30.0}").valid());
    }

    @Test
    void sessionIdentifiersFollowDynamicSessionsRules() {
        assertTrue(ExecuteRequestValidator.SESSION_ID.matcher("user-42").matches());
        assertTrue(ExecuteRequestValidator.SESSION_ID.matcher("a|b&c^d%e$f#g(h)i{j}k[l];m<n>").matches());
        assertTrue(ExecuteRequestValidator.SESSION_ID.matcher("x".repeat(128)).matches());
        assertFalse(ExecuteRequestValidator.SESSION_ID.matcher("abc").matches());
        assertFalse(ExecuteRequestValidator.SESSION_ID.matcher("x".repeat(129)).matches());
        assertFalse(ExecuteRequestValidator.SESSION_ID.matcher("user_42").matches());
        assertFalse(ExecuteRequestValidator.SESSION_ID.matcher("user/../42").matches());
    }

    @Test
    void fileNamesStayInsideTheDataDirectory() {
        assertNull(ExecuteRequestValidator.fileNameProblem("in.csv"));
        assertNull(ExecuteRequestValidator.fileNameProblem("..hidden"));
        for (String bad : new String[] {"", ".", "..", "a/b", "/etc/passwd", "a\\b", "a\u0000b", "a\nb", "x".repeat(256)}) {
            assertTrue(ExecuteRequestValidator.fileNameProblem(bad) != null, bad);
        }
    }

    @Test
    void fileCountAndTotalSizeAreBounded() throws Exception {
        assertEquals(java.util.List.of("/data/files"), pointers(validate("""
                {"code":"1","files":[{"name":"a","contentBase64":""},{"name":"b","contentBase64":""},{"name":"c","contentBase64":""}]}""")));
        assertEquals(java.util.List.of("/data/files"), pointers(validate("""
                {"code":"1","files":[{"name":"a","contentBase64":"MDEyMzQ1Njc4OTAx"}]}""")));
        assertEquals(java.util.List.of("/data/files/1/name"), pointers(validate("""
                {"code":"1","files":[{"name":"a","contentBase64":""},{"name":"a","contentBase64":""}]}""")));
    }

    @Test
    void codeSizeIsCountedInUtf8Bytes() throws Exception {
        String justFits = "é".repeat(256 * 1024 / 2);
        assertTrue(validate(mapper.writeValueAsString(Map.of("code", justFits))).valid());
        assertFalse(validate(mapper.writeValueAsString(Map.of("code", justFits + "é"))).valid());
    }
}
