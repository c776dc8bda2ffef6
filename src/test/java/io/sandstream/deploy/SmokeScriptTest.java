package io.sandstream.deploy;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.sandstream.model.ExecutionIds;

/**
 * {@code kubernetes/containerapps/smoke.sh}, deploy.sh's last step, against the running service:
 * the recipe's Event Grid schema test event goes to {@code /events} as the deployed topic delivers
 * it (its {@code topic} the topic's resource id), and the script finds its execution by the id the
 * service derives, prints the status and stdout, and fails clearly when the execution does not
 * finish in time or the key is refused.
 */
@QuarkusTest
class SmokeScriptTest {

    private static final String TOPIC = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-sandstream"
            + "/providers/Microsoft.EventGrid/topics/sandstream-events-eg";

    @TestHTTPResource("/")
    URL app;

    @Test
    void printsTheResultOfTheRecipesTestEvent() throws Exception {
        String id = send("print('Hello from secure session!')");
        Run run = smoke(id, Map.of("API_KEY", "test-reader@*", "SMOKE_TIMEOUT", "180"));
        assertEquals(0, run.exit, run.output);
        assertTrue(run.output.contains("execution " + ExecutionIds.of(TOPIC, id) + ": Succeeded"), run.output);
        assertTrue(run.output.contains("--- stdout\nHello from secure session!\n"), run.output);
    }

    @Test
    void failsClearlyWhenTheExecutionDoesNotFinishInTime() throws Exception {
        String id = send("import time\\ntime.sleep(10)");
        Run run = smoke(id, Map.of("API_KEY", "test-reader", "SMOKE_TIMEOUT", "2"));
        assertEquals(1, run.exit, run.output);
        assertTrue(run.output.contains("smoke.sh: no result for execution " + ExecutionIds.of(TOPIC, id) + " after 2s (last answer: "),
                run.output);
        assertFalse(run.output.contains("Succeeded"), run.output);
    }

    @Test
    void failsClearlyWhenTheKeyIsRefused() throws Exception {
        Run run = smoke(send("print(1)"), Map.of("API_KEY", "not-a-key", "SMOKE_TIMEOUT", "60"));
        assertEquals(2, run.exit, run.output);
        assertTrue(run.output.contains("refused the API key (HTTP 401)"), run.output);
        assertFalse(run.output.contains("not-a-key"), "the key is not printed: " + run.output);
    }

    @Test
    void failsWhenTheExecutionFails() throws Exception {
        Run run = smoke(send("raise ValueError('boom')"), Map.of("API_KEY", "test-reader@*", "SMOKE_TIMEOUT", "180"));
        assertEquals(1, run.exit, run.output);
        assertTrue(run.output.contains("ValueError") && run.output.contains("ended Failed, not Succeeded"), run.output);
    }

    /** The recipe's test event, in the Event Grid schema, as the Event Grid schema topic delivers it. */
    private static String send(String code) {
        String id = "deploy-smoke-" + UUID.randomUUID();
        String body = """
                [{"id":"%s","topic":"%s","eventType":"Microsoft.EventGrid.ExecuteCode","subject":"code-execution/smoke-test",
                  "eventTime":"2026-12-05T19:00:00Z","dataVersion":"1.0","metadataVersion":"1",
                  "data":{"code":"%s","language":"python","timeoutSeconds":30}}]""".formatted(id, TOPIC, code);
        given().header("aeg-sas-key", "test-key-primary").header("aeg-event-type", "Notification")
                .contentType("application/json").body(body).post("/events").then()
                .statusCode(202).body("accepted[0].executionId", equalTo(ExecutionIds.of(TOPIC, id)));
        return id;
    }

    private Run smoke(String eventId, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("kubernetes/containerapps/smoke.sh", app.toString(), TOPIC, eventId)
                .redirectErrorStream(true);
        pb.environment().remove("API_KEY");
        pb.environment().put("SMOKE_INTERVAL", "1");
        pb.environment().putAll(env);
        Process p = pb.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "smoke.sh ends");
        return new Run(p.exitValue(), output);
    }

    private record Run(int exit, String output) {
    }
}
