package io.sandstream.ingress;

import static io.restassured.RestAssured.given;
import static io.sandstream.ingress.EventsResourceTest.CE_JSON;
import static io.sandstream.ingress.EventsResourceTest.KEY;
import static io.sandstream.ingress.EventsResourceTest.event;
import static io.sandstream.ingress.EventsResourceTest.id;
import static io.sandstream.ingress.EventsResourceTest.post;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;

import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;

/** A full journal answers 429 with Retry-After and takes nothing; duplicates and rejections still pass. */
@Tag("restart")
@QuarkusTest
@TestProfile(BackpressureTest.SmallJournal.class)
class BackpressureTest {

    public static class SmallJournal implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            // One session at a time and code that sleeps: what is accepted stays pending.
            return Map.of("sandstream.journal.max-pending", "3",
                    "sandstream.pools.python.max-sessions", "1",
                    "sandstream.journal.retry-after-seconds", "7",
                    "sandstream.data-dir", "target/test-data-backpressure-" + UUID.randomUUID());
        }
    }

    static final String SLOW = "{\"code\":\"import time\\ntime.sleep(60)\",\"timeoutSeconds\":120}";

    @Test
    void beyondTheLimitRequestsAre429AndNothingIsLost() {
        String first = event(id(), SLOW);
        post(CE_JSON, first).statusCode(202);
        post(CE_JSON, event(id(), SLOW)).statusCode(202);

        // Two more do not fit into the one place left: the whole batch is refused.
        post(CE_JSON, "[" + event(id(), SLOW) + "," + event(id(), SLOW) + "]")
                .statusCode(429)
                .header("Retry-After", "7")
                .contentType("application/problem+json")
                .body("status", equalTo(429))
                .body("detail", containsString("3"));

        post(CE_JSON, event(id(), SLOW)).statusCode(202);
        post(CE_JSON, event(id(), SLOW)).statusCode(429).header("Retry-After", "7");

        // A redelivery of something already queued takes no room and is still acknowledged.
        post(CE_JSON, first).statusCode(202).body("accepted[0].duplicate", equalTo(true));
        // Invalid events take no room either: they are recorded as rejected.
        given().queryParam("code", KEY).contentType(CE_JSON).body("[" + event(id(), "{}") + "]").post("/events").then()
                .statusCode(202).body("rejected", hasSize(1));

        given().get("/q/metrics").then().body(containsString("sandstream_journal_pending 3.0"))
                .body(containsString("sandstream_journal_pending_limit 3.0"));
    }
}
