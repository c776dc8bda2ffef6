package io.sandstream.ingress;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.empty;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasKey;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.lessThan;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.UUID;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;
import io.sandstream.journal.Journal;
import io.sandstream.journal.JournalRecord;
import io.sandstream.model.ExecutionIds;
import io.sandstream.model.Priority;

/** The ingress contract (API.md §1) over the real HTTP stack and the real SQLite journal. */
@QuarkusTest
class EventsResourceTest {

    static final String KEY = "test-key-primary";
    static final String CE_JSON = "application/cloudevents+json";
    static final String EXECUTE = "io.sandstream.code.execute";

    @Inject
    Journal journal;

    static String id() {
        return UUID.randomUUID().toString();
    }

    static String event(String id, String data) {
        return """
                {"specversion":"1.0","id":"%s","source":"/tests/ingress","type":"%s","subject":"code-execution/t","data":%s}"""
                .formatted(id, EXECUTE, data);
    }

    static ValidatableResponse post(String contentType, String body) {
        return given().queryParam("code", KEY).contentType(contentType).body(body).post("/events").then();
    }

    // ---- every row of the ingress table ----------------------------------------------------------

    @Test
    void structuredSingleEventIsAcceptedWithLocation() {
        String id = id();
        String executionId = ExecutionIds.of("/tests/ingress", id);
        post(CE_JSON, event(id, "{\"code\":\"print('hello')\",\"sessionId\":\"user-42\"}"))
                .statusCode(202)
                .contentType("application/json")
                .header("Location", "/executions/" + executionId)
                .body("accepted", hasSize(1))
                .body("accepted[0].id", equalTo(id))
                .body("accepted[0].source", equalTo("/tests/ingress"))
                .body("accepted[0].executionId", equalTo(executionId))
                .body("accepted[0].duplicate", equalTo(false))
                .body("rejected", empty());
    }

    @Test
    void cloudEventsBatchIsAccepted() {
        String body = "[" + event(id(), "{\"code\":\"1\"}") + "," + event(id(), "{\"code\":\"2\"}") + "]";
        post("application/cloudevents-batch+json; charset=utf-8", body)
                .statusCode(202).body("accepted", hasSize(2)).body("rejected", empty())
                .header("Location", (String) null);
    }

    @Test
    void jsonArrayUnderCloudEventsJsonIsABatch() {
        String body = "[" + event(id(), "{\"code\":\"1\"}") + "," + event(id(), "{\"code\":\"2\"}") + "]";
        post(CE_JSON, body).statusCode(202).body("accepted", hasSize(2));
    }

    @Test
    void batchContentTypeNeedsAnArray() {
        post("application/cloudevents-batch+json", event(id(), "{\"code\":\"1\"}"))
                .statusCode(400).contentType("application/problem+json");
    }

    @Test
    void binaryModeDecodesPercentEncodedHeaders() {
        given().queryParam("code", KEY)
                .header("ce-specversion", "1.0")
                .header("ce-id", "caf%C3%A9-" + "x1")
                .header("ce-source", "/tests/binary")
                .header("ce-type", EXECUTE)
                .header("ce-subject", "code-execution%2Fbinary")
                .contentType("application/json")
                .body("{\"code\":\"print(1)\"}")
                .post("/events").then()
                .statusCode(202)
                .body("accepted[0].id", equalTo("café-x1"))
                .body("accepted[0].executionId", equalTo(ExecutionIds.of("/tests/binary", "café-x1")));
    }

    @Test
    void binaryModeTakesTextDataAsTheCode() {
        given().queryParam("code", KEY)
                .header("ce-specversion", "1.0").header("ce-id", id()).header("ce-source", "/tests/binary")
                .header("ce-type", EXECUTE).header("ce-language", "javascript")
                .contentType("text/plain; charset=utf-8").body("console.log(1)")
                .post("/events").then().statusCode(202).body("accepted", hasSize(1));
    }

    @Test
    void binaryModeRefusesDataThatIsNeitherJsonNorText() {
        given().queryParam("code", KEY)
                .header("ce-specversion", "1.0").header("ce-id", id()).header("ce-source", "/tests/binary")
                .header("ce-type", EXECUTE)
                .contentType("application/octet-stream").body(new byte[] {0, (byte) 0xff, 3})
                .post("/events").then().statusCode(400)
                .body("errors.pointer", hasItem("/datacontenttype"));
    }

    @Test
    void binaryModeChecksItsHeaders() {
        given().queryParam("code", KEY)
                .header("ce-specversion", "0.3").header("ce-id", "").header("ce-source", "not a uri")
                .header("ce-type", EXECUTE).header("ce-time", "tomorrow")
                .contentType("application/json").body("{\"code\":\"1\"}")
                .post("/events").then().statusCode(400)
                .body("errors.pointer", hasItem("/headers/ce-specversion"))
                .body("errors.pointer", hasItem("/headers/ce-id"))
                .body("errors.pointer", hasItem("/headers/ce-source"))
                .body("errors.pointer", hasItem("/headers/ce-time"));
    }

    @Test
    void structuredDataBase64IsDecoded() {
        String code = Base64.getEncoder().encodeToString("{\"code\":\"print(2)\"}".getBytes(StandardCharsets.UTF_8));
        String body = """
                {"specversion":"1.0","id":"%s","source":"/tests/b64","type":"%s","datacontenttype":"application/json","data_base64":"%s"}"""
                .formatted(id(), EXECUTE, code);
        post(CE_JSON, body).statusCode(202).body("accepted", hasSize(1));
    }

    @Test
    void theOriginalRecipesTestEventWorksVerbatim() {
        String id = "recipe-" + id();
        String body = """
                [{"id": "%s", "eventType": "Microsoft.EventGrid.ExecuteCode",
                  "subject": "code-execution/test",
                  "data": {"code": "print(\\"Hello from secure session!\\")", "language": "python"},
                  "eventTime": "2025-07-23T10:00:00Z"}]""".formatted(id);
        given().queryParam("code", KEY).header("aeg-event-type", "Notification").contentType("application/json")
                .body(body).post("/events").then()
                .statusCode(202)
                .body("accepted[0].id", equalTo(id))
                .body("accepted[0].source", equalTo("/eventgrid"))
                .body("accepted[0].executionId", equalTo(ExecutionIds.of("/eventgrid", id)));
    }

    @Test
    void eventGridSingleObjectWithStringDataIsAccepted() {
        String body = """
                {"id":"%s","topic":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.EventGrid/topics/t",
                 "eventType":"Microsoft.EventGrid.ExecuteCode","subject":"code-execution/s","dataVersion":"1.0",
                 "eventTime":"2025-07-23T10:00:00.1234567Z","data":"{\\"code\\":\\"print(3)\\",\\"priority\\":\\"high\\"}"}"""
                .formatted(id());
        post("application/json", body).statusCode(202)
                .body("accepted[0].source", startsWith("/subscriptions/x/"));
    }

    @Test
    void eventGridEventsAreCheckedToo() {
        String body = """
                [{"id":"%s","eventType":"Microsoft.EventGrid.ExecuteCode","subject":"code-execution/a","data":{"code":"1"}},
                 {"eventType":"Microsoft.EventGrid.ExecuteCode","data":{"code":"2"},"eventTime":"later"}]""".formatted(id());
        post("application/json", body).statusCode(202)
                .body("accepted", hasSize(1))
                .body("rejected", hasSize(1))
                .body("rejected[0].errors.pointer", hasItem("/1/id"))
                .body("rejected[0].errors.pointer", hasItem("/1/subject"))
                .body("rejected[0].errors.pointer", hasItem("/1/eventTime"));
    }

    @Test
    void subscriptionValidationHandshakeEchoesTheCode() {
        String body = """
                [{"id":"2d1781af-3a4c-4d7c-bd0c-e34b19da4e66","topic":"/subscriptions/xx/resourceGroups/rg/providers/Microsoft.EventGrid/topics/t",
                  "subject":"","data":{"validationCode":"512d38b6-c7b8-40c8-89fe-f46f9e9622b6",
                  "validationUrl":"https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/x/validate?id=1&t=2"},
                  "eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2018-01-25T22:12:19.4556811Z",
                  "metadataVersion":"1","dataVersion":"1"}]""";
        given().queryParam("code", KEY).header("aeg-event-type", "SubscriptionValidation").contentType("application/json")
                .body(body).post("/events").then()
                .statusCode(200)
                .body("validationResponse", equalTo("512d38b6-c7b8-40c8-89fe-f46f9e9622b6"));
    }

    @Test
    void abuseProtectionHandshakeGrantsTheRequestingOrigin() {
        given().queryParam("code", KEY).header("WebHook-Request-Origin", "eventemitter.example.com").options("/events").then()
                .statusCode(200)
                .header("WebHook-Allowed-Origin", "eventemitter.example.com")
                .header("WebHook-Allowed-Rate", "*")
                .header("Allow", containsString("POST"));
        given().header("aeg-sas-key", KEY).header("Origin", "older.example.com").options("/events").then()
                .statusCode(200)
                .header("WebHook-Allowed-Origin", "older.example.com")
                .header("Allow", "POST, OPTIONS");
    }

    @Test
    void abuseProtectionHandshakeNeedsTheDeliveryCredential() {
        given().header("WebHook-Request-Origin", "eventemitter.example.com").options("/events").then()
                .statusCode(401).contentType("application/problem+json")
                .header("WebHook-Allowed-Origin", (String) null);
        given().queryParam("code", "wrong").header("WebHook-Request-Origin", "eventemitter.example.com")
                .options("/events").then().statusCode(401);
    }

    @Test
    void publishApiCallsAreAnsweredLikeAnEventGridTopic() {
        given().queryParam("api-version", "2018-01-01").header("aeg-sas-key", KEY)
                .contentType("application/cloudevents-batch+json; charset=utf-8")
                .body("[" + event(id(), "{\"code\":\"1\"}") + "]")
                .post("/events").then().statusCode(200).body(equalTo(""));
    }

    // ---- authentication ----------------------------------------------------------------------------

    @Test
    void everyPostNeedsAValidKey() {
        String body = event(id(), "{\"code\":\"1\"}");
        given().contentType(CE_JSON).body(body).post("/events").then()
                .statusCode(401).contentType("application/problem+json").body("status", equalTo(401));
        given().queryParam("code", "wrong").contentType(CE_JSON).body(body).post("/events").then().statusCode(401);
        given().header("aeg-sas-key", "test-key-primaryX").contentType(CE_JSON).body(body).post("/events").then()
                .statusCode(401);
        given().header("Authorization", "Bearer test-key-primary").contentType(CE_JSON).body(body).post("/events").then()
                .statusCode(401);
    }

    @Test
    void bothRotationKeysAreAcceptedInBothPlaces() {
        given().queryParam("code", "test-key-secondary").contentType(CE_JSON).body(event(id(), "{\"code\":\"1\"}"))
                .post("/events").then().statusCode(202);
        given().header("aeg-sas-key", "test-key-secondary").contentType(CE_JSON).body(event(id(), "{\"code\":\"1\"}"))
                .post("/events").then().statusCode(202);
        given().header("aeg-sas-key", KEY).contentType(CE_JSON).body(event(id(), "{\"code\":\"1\"}"))
                .post("/events").then().statusCode(202);
    }

    // ---- errors ------------------------------------------------------------------------------------

    @Test
    void aSingleInvalidEventIs400WithEveryFieldError() {
        String body = """
                {"specversion":"0.3","id":"","source":"has space","type":"%s","Bad_Name":"x","time":"2025-13-45T99:00:00Z",
                 "data":{"code":5,"language":"cobol","sessionId":"no","timeoutSeconds":999,"priority":"urgent",
                         "files":[{"name":"../etc/passwd","contentBase64":"!!"}]}}""".formatted(EXECUTE);
        post(CE_JSON, body)
                .statusCode(400)
                .contentType("application/problem+json")
                .body("status", equalTo(400))
                .body("type", notNullValue())
                .body("title", notNullValue())
                .body("errors.pointer", hasItem("/specversion"))
                .body("errors.pointer", hasItem("/id"))
                .body("errors.pointer", hasItem("/source"))
                .body("errors.pointer", hasItem("/Bad_Name"))
                .body("errors.pointer", hasItem("/time"))
                .body("errors.pointer", hasItem("/data/code"))
                .body("errors.pointer", hasItem("/data/language"))
                .body("errors.pointer", hasItem("/data/sessionId"))
                .body("errors.pointer", hasItem("/data/timeoutSeconds"))
                .body("errors.pointer", hasItem("/data/priority"))
                .body("errors.pointer", hasItem("/data/files/0/name"))
                .body("errors.pointer", hasItem("/data/files/0/contentBase64"));
    }

    @Test
    void aLanguageNoConfiguredPoolRunsIs400NamingTheConfiguredOnes() {
        // cobol is a language name like any other, but no pool of this configuration runs it.
        post(CE_JSON, event(id(), "{\"code\":\"DISPLAY 1\",\"language\":\"cobol\"}"))
                .statusCode(400)
                .body("errors.pointer", equalTo(java.util.List.of("/data/language")))
                .body("errors[0].detail", equalTo("must be a language a configured pool runs: bash, c, cpp, go, java,"
                        + " javascript, python, ruby, typescript"));
        post(CE_JSON, event(id(), "{\"code\":\"puts 1\",\"language\":\"Ruby\"}")).statusCode(202);
        post(CE_JSON, event(id(), "{\"code\":\"1\",\"language\":\"Python\"}")).statusCode(202);
        post(CE_JSON, event(id(), "{\"code\":\"1\",\"language\":\"JavaScript\"}")).statusCode(202);
    }

    @Test
    void anEventOfAnotherTypeIsRefused() {
        String body = """
                {"specversion":"1.0","id":"%s","source":"/x","type":"com.example.other","data":{"code":"1"}}""".formatted(id());
        post(CE_JSON, body).statusCode(400).body("errors.pointer", hasItem("/type"));
    }

    @Test
    void anInvalidPriorityExtensionIsRefused() {
        String body = """
                {"specversion":"1.0","id":"%s","source":"/x","type":"%s","priority":"asap","data":{"code":"1"}}"""
                .formatted(id(), EXECUTE);
        post(CE_JSON, body).statusCode(400).body("errors.pointer", hasItem("/priority"));
    }

    @Test
    void malformedJsonIs400() {
        post(CE_JSON, "{\"specversion\": ").statusCode(400).contentType("application/problem+json");
        post("application/json", "[{]").statusCode(400);
        post(CE_JSON, "").statusCode(400);
    }

    @Test
    void unknownMediaTypeIs415() {
        post("text/plain", "print(1)").statusCode(415).contentType("application/problem+json").body("status", equalTo(415));
        post("application/xml", "<a/>").statusCode(415);
    }

    @Test
    void oversizedRequestIs413() {
        String big = "x".repeat(1024 * 1024);
        post(CE_JSON, event(id(), "{\"code\":\"" + big + "\"}"))
                .statusCode(413).contentType("application/problem+json").body("status", equalTo(413));
    }

    @Test
    void oversizedCodeIsAFieldError() {
        String code = "x".repeat(256 * 1024 + 1);
        post(CE_JSON, event(id(), "{\"code\":\"" + code + "\"}")).statusCode(400)
                .body("errors.pointer", hasItem("/data/code"));
    }

    @Test
    void noClientInputGetsA5xx() {
        List<String[]> inputs = List.of(
                new String[] {CE_JSON, "null"}, new String[] {CE_JSON, "[]"}, new String[] {CE_JSON, "[1, \"x\", null]"},
                new String[] {CE_JSON, "\"just a string\""}, new String[] {CE_JSON, "{}"},
                new String[] {CE_JSON, "{\"specversion\":\"1.0\"}"}, new String[] {CE_JSON, "{\"specversion\":2}"},
                new String[] {CE_JSON, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"" + EXECUTE
                        + "\",\"data\":[1,2]}"},
                new String[] {CE_JSON, "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"" + EXECUTE
                        + "\",\"data_base64\":\"%%%\"}"},
                new String[] {CE_JSON, "{\"specversion\":\"1.0\",\"id\":{\"a\":1},\"source\":[],\"type\":true}"},
                new String[] {CE_JSON, "[".repeat(5000) + "]".repeat(5000)},
                new String[] {"application/json", "{}"}, new String[] {"application/json", "[{\"eventType\":5}]"},
                new String[] {"application/json", "[{\"eventType\":\"Microsoft.EventGrid.SubscriptionValidationEvent\"}]"},
                new String[] {"application/json", "{\"id\":\"1\",\"eventType\":\"x\",\"subject\":\"s\",\"data\":\"not json\"}"},
                new String[] {"application/cloudevents-batch+json", "[[[]]]"},
                new String[] {"application/json; charset=latin1", "[\"\\ud800\"]"});
        for (String[] input : inputs) {
            post(input[0], input[1]).statusCode(lessThan(500)).contentType(not(equalTo("")));
        }
        given().queryParam("code", KEY).contentType(CE_JSON).body(new byte[] {'{', (byte) 0xc3, (byte) 0x28, '}'})
                .post("/events").then().statusCode(400);
    }

    // ---- journal: duplicates, rejections, the hand-off ---------------------------------------------

    @Test
    void aRedeliveredEventIsADuplicateOfTheSameExecution() {
        String body = event(id(), "{\"code\":\"print(1)\"}");
        String first = post(CE_JSON, body).statusCode(202).body("accepted[0].duplicate", equalTo(false))
                .extract().path("accepted[0].executionId");
        post(CE_JSON, body).statusCode(202)
                .body("accepted[0].duplicate", equalTo(true))
                .body("accepted[0].executionId", equalTo(first));
    }

    @Test
    void duplicatesInsideOneBatchAreDetected() {
        String one = event(id(), "{\"code\":\"1\"}");
        post(CE_JSON, "[" + one + "," + one + "]").statusCode(202)
                .body("accepted[0].duplicate", equalTo(false))
                .body("accepted[1].duplicate", equalTo(true));
    }

    @Test
    void invalidEventsInABatchAreRejectedWithoutFailingTheirNeighbours() {
        String good = id();
        String badData = id();
        String body = "[" + event(good, "{\"code\":\"print(1)\"}") + ","
                + event(badData, "{\"language\":\"python\"}") + ","
                + "{\"specversion\":\"1.0\",\"source\":\"/tests/ingress\",\"type\":\"" + EXECUTE + "\"}" + ","
                + "42]";
        post("application/cloudevents-batch+json", body)
                .statusCode(202)
                .body("accepted", hasSize(1))
                .body("accepted[0].id", equalTo(good))
                .body("rejected", hasSize(3))
                .body("rejected[0].id", equalTo(badData))
                .body("rejected[0].executionId", equalTo(ExecutionIds.of("/tests/ingress", badData)))
                .body("rejected[0].reason", containsString("/1/data/code"))
                .body("rejected[1].errors.pointer", hasItem("/2/id"))
                .body("rejected[2].executionId", notNullValue());
    }

    @Test
    void acceptedEventsAreJournalled() {
        String id = id();
        String executionId = post(CE_JSON, event(id, "{\"code\":\"print(7)\",\"priority\":\"low\"}")).statusCode(202)
                .extract().path("accepted[0].executionId");
        JournalRecord record = journal.load(executionId).await().atMost(Duration.ofSeconds(10)).orElseThrow();
        assertEquals(id, record.entry().eventId());
        assertEquals(Priority.LOW, record.entry().priority());
        assertEquals("/tests/ingress", record.entry().source());
    }

    @Test
    void priorityExtensionWinsOverDataPriority() {
        String id = id();
        String body = """
                {"specversion":"1.0","id":"%s","source":"/tests/prio","type":"%s","priority":"HIGH","data":{"code":"1","priority":"low"}}"""
                .formatted(id, EXECUTE);
        String executionId = post(CE_JSON, body).statusCode(202).extract().path("accepted[0].executionId");
        JournalRecord record = journal.load(executionId).await().atMost(Duration.ofSeconds(10)).orElseThrow();
        assertEquals(Priority.HIGH, record.entry().priority());
    }

    // ---- operations --------------------------------------------------------------------------------

    @Test
    void metricsAndHealthAreServed() {
        post(CE_JSON, event(id(), "{\"code\":\"1\"}")).statusCode(202);
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("sandstream_events_received_total{endpoint=\"events\",outcome=\"accepted\"}"))
                .body(containsString("sandstream_journal_commit_seconds_count"))
                .body(containsString("sandstream_journal_pending "))
                .body(containsString("sandstream_journal_pending_limit"));
        given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"))
                .body("checks.name", hasItem("journal"));
        given().get("/q/health/live").then().statusCode(200);
    }

    /**
     * The OpenAPI document as clients fetch it, JSON and YAML (the packaged service, which prepares
     * it on the first request: PackagedServiceIT).
     */
    @Test
    void openApiDocumentIsServedAsJsonAndYaml() {
        for (ValidatableResponse json : List.of(given().queryParam("format", "json").get("/q/openapi").then(),
                given().accept("application/json").get("/q/openapi").then())) {
            json.statusCode(200).contentType(startsWith("application/json"))
                    .body("openapi", startsWith("3."))
                    .body("info.title", equalTo("sandstream"))
                    .body("paths", hasKey("/events"));
        }
        for (ValidatableResponse yaml : List.of(given().get("/q/openapi").then(),
                given().queryParam("format", "yaml").get("/q/openapi").then())) {
            yaml.statusCode(200).contentType(startsWith("application/yaml"))
                    .body(containsString("openapi: 3."))
                    .body(containsString("\n  /events:\n"));
        }
    }
}
