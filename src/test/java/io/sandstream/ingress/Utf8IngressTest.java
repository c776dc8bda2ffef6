package io.sandstream.ingress;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ValidatableResponse;

/**
 * Issue 17: bytes that are not UTF-8 must never be read as some other event's id. Each collision
 * pair's second event is refused (it would otherwise be answered "duplicate" and never run).
 */
@QuarkusTest
class Utf8IngressTest {

    private static final byte[] OVERLONG_SLASH = {(byte) 0xC0, (byte) 0xAF};

    private static byte[] structured(String idPrefix, byte[] raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(("{\"specversion\":\"1.0\",\"source\":\"/tests/utf8\",\"type\":\"" + EventsResourceTest.EXECUTE
                + "\",\"data\":{\"code\":\"1\"},\"id\":\"" + idPrefix).getBytes(StandardCharsets.UTF_8));
        out.writeBytes(raw);
        out.writeBytes("\"}".getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }

    private static ValidatableResponse post(byte[] body) {
        return given().queryParam("code", EventsResourceTest.KEY).contentType(EventsResourceTest.CE_JSON).body(body)
                .post("/events").then();
    }

    private static ValidatableResponse binary(String ceId) {
        return given().queryParam("code", EventsResourceTest.KEY).contentType("application/json")
                .header("ce-specversion", "1.0").header("ce-id", ceId).header("ce-source", "/tests/utf8-binary")
                .header("ce-type", EventsResourceTest.EXECUTE).body("{\"code\":\"1\"}").post("/events").then();
    }

    @Test
    void anOverlongSlashIsNotTheSlash() {
        String prefix = "c-" + UUID.randomUUID() + "-";
        post(structured(prefix, "/".getBytes(StandardCharsets.US_ASCII))).statusCode(202)
                .body("accepted[0].duplicate", equalTo(false));
        post(structured(prefix, OVERLONG_SLASH)).statusCode(400).contentType("application/problem+json")
                .body("errors.pointer", hasItem("/id"));
        // The other order: the overlong form first is refused, so the real one is new.
        String other = "c-" + UUID.randomUUID() + "-";
        post(structured(other, OVERLONG_SLASH)).statusCode(400);
        post(structured(other, "/".getBytes(StandardCharsets.US_ASCII))).statusCode(202)
                .body("accepted[0].duplicate", equalTo(false));
    }

    @Test
    void percentEncodedBytesThatAreNotUtf8AreRefused() {
        String prefix = "coll-" + UUID.randomUUID();
        binary(prefix + "%ff").statusCode(400).contentType("application/problem+json")
                .body("errors.pointer", hasItem("/headers/ce-id"));
        binary(prefix + "%fe").statusCode(400).body("errors.pointer", hasItem("/headers/ce-id"));
        binary("%ff%fe").statusCode(400);
        binary(prefix + "%C3%A9").statusCode(202).body("accepted[0].duplicate", equalTo(false));
    }

    @Test
    void aBatchWithABadByteIsRefusedNamingTheEvent() {
        ByteArrayOutputStream batch = new ByteArrayOutputStream();
        batch.write('[');
        batch.writeBytes(structured("ok-" + UUID.randomUUID(), new byte[0]));
        batch.write(',');
        batch.writeBytes(structured("bad-", OVERLONG_SLASH));
        batch.write(']');
        post(batch.toByteArray()).statusCode(400).body("errors.pointer", hasItem("/1/id"));
    }

    @Test
    void binaryDataThatIsNotUtf8IsRefused() {
        given().queryParam("code", EventsResourceTest.KEY).contentType("text/x-python")
                .header("ce-specversion", "1.0").header("ce-id", UUID.randomUUID().toString())
                .header("ce-source", "/tests/utf8-binary").header("ce-type", EventsResourceTest.EXECUTE)
                .body(new byte[] {'p', (byte) 0xC0, (byte) 0xAF}).post("/events").then()
                .statusCode(400).body("errors.pointer", hasItem("/data"));
    }

    @Test
    void theOtherJsonEndpointsRefuseItToo() {
        byte[] code = structuredCode();
        given().header("Authorization", "Bearer test-reader").contentType("application/json").body(code)
                .post("/executions").then().statusCode(400).contentType("application/problem+json")
                .body("errors.pointer", hasItem("/code"));
        given().header("Authorization", "Bearer test-reader").queryParam("api-version", "2024-02-02-preview")
                .queryParam("identifier", "utf8-" + UUID.randomUUID()).contentType("application/json")
                .body(legacy()).post("/pools/python/code/execute").then().statusCode(400)
                .body("error.code", equalTo("InvalidRequestBody"));
    }

    private static byte[] structuredCode() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes("{\"code\":\"print('".getBytes(StandardCharsets.UTF_8));
        out.writeBytes(OVERLONG_SLASH);
        out.writeBytes("')\"}".getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }

    private static byte[] legacy() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes("{\"properties\":{\"codeInputType\":\"inline\",\"executionType\":\"synchronous\",\"code\":\"x"
                .getBytes(StandardCharsets.UTF_8));
        out.write(0xFF);
        out.writeBytes("\"}}".getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }
}
