package io.sandstream.security;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.anyOf;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.specification.RequestSpecification;

/**
 * The authentication audit: every operation the service publishes in its OpenAPI document (so a
 * new endpoint is walked without being listed here) refuses a request without credentials, and
 * only health, the OpenAPI document and Swagger UI are open. Also the header limits.
 */
@Tag("restart")
@QuarkusTest
@TestProfile(EndpointAuthTest.Defaults.class)
class EndpointAuthTest {

    /** The production defaults for what the test profile loosens. */
    public static class Defaults implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("sandstream.security.public-metrics", "false");
        }
    }

    /** Operations known today; the walk covers whatever else appears. */
    static final Set<String> KNOWN = Set.of("POST /events", "OPTIONS /events", "POST /executions", "GET /executions/stream",
            "GET /executions/{executionId}", "GET /executions/{executionId}/events", "POST /pools/{pool}/code/execute",
            "POST /pools/{pool}/files/upload", "GET /pools/{pool}/files", "GET /pools/{pool}/files/content/{name}",
            "POST /pools/{pool}/executions", "GET /pools/{pool}/executions/{id}", "POST /pools/{pool}/files",
            "GET /pools/{pool}/files/{name}", "DELETE /pools/{pool}/files/{name}", "GET /pools/{pool}/files/{name}/content",
            "GET /pools/{pool}/session", "DELETE /pools/{pool}/session", "GET /pools/{pool}/listSessions",
            "GET /pools/{pool}/metadata");

    @Test
    void everyPublishedOperationNeedsCredentials() throws Exception {
        JsonNode openapi = new ObjectMapper().readTree(given().queryParam("format", "json").get("/q/openapi").then()
                .statusCode(200).extract().asString());
        Set<String> walked = new TreeSet<>();
        List<String> open = new ArrayList<>();
        openapi.get("paths").fields().forEachRemaining(path -> path.getValue().fields().forEachRemaining(operation -> {
            String method = operation.getKey().toUpperCase();
            if (method.equals("PARAMETERS")) {
                return;
            }
            walked.add(method + " " + path.getKey());
            int status = request(operation.getValue()).request(method, concrete(path.getKey())).then().extract().statusCode();
            if (status != 401 && status != 403) {
                open.add(method + " " + path.getKey() + " -> " + status);
            }
        }));
        assertTrue(walked.containsAll(KNOWN), "the OpenAPI document lists every endpoint: " + walked);
        assertEquals(List.of(), open, "answered without credentials");
    }

    /** A request as a client would send it, minus the credentials: the right content type and a body. */
    static RequestSpecification request(JsonNode operation) {
        RequestSpecification request = given().queryParam("api-version", "2025-02-02-preview").queryParam("identifier", "audit-1");
        JsonNode content = operation.path("requestBody").path("content");
        if (content.has("multipart/form-data")) {
            return request.multiPart("file", "a.txt", "x".getBytes());
        }
        if (!content.isMissingNode() && content.size() > 0) {
            return request.contentType("application/json").body("{\"code\":\"1\"}");
        }
        return request;
    }

    static String concrete(String template) {
        return template.replace("{pool}", "python").replaceAll("\\{[^}]+}", "x");
    }

    @Test
    void onlyHealthAndTheApiDocumentsAreOpen() {
        for (String path : List.of("/q/health", "/q/health/live", "/q/health/ready", "/q/openapi", "/q/swagger-ui/")) {
            given().get(path).then().statusCode(200);
        }
        given().get("/q/metrics").then().statusCode(401).header("WWW-Authenticate", "Bearer");
        given().header("Authorization", "Bearer wrong").get("/q/metrics").then().statusCode(401);
        given().header("Authorization", "Bearer test-reader").get("/q/metrics").then().statusCode(200);
    }

    @Test
    void tooManyOrTooLargeHeadersAre431() {
        RequestSpecification many = given();
        for (int i = 0; i < 70; i++) {
            many.header("X-Filler-" + i, "1");
        }
        many.get("/q/health/live").then().statusCode(431).contentType("application/problem+json")
                .body("status", equalTo(431));
        RequestSpecification repeated = given();
        for (int i = 0; i < 70; i++) {
            repeated.header("X-Same", Integer.toString(i));
        }
        repeated.get("/q/health/live").then().statusCode(431);
        given().header("X-Large", "a".repeat(20 * 1024)).get("/q/health/live").then().statusCode(431);
        given().get("/q/health/live?pad=" + "a".repeat(9000)).then().statusCode(anyOf(equalTo(414), equalTo(400)));
        given().header("X-Filler", "1").get("/q/health/live").then().statusCode(200);
    }
}
