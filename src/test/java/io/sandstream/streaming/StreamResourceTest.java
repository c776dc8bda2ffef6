package io.sandstream.streaming;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;

/** The SSE endpoints over a real HTTP connection, fed by real executions. */
@QuarkusTest
public class StreamResourceTest {

    static final String READER = "Bearer test-reader";
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    /** One SSE event: its name, id and data lines. */
    public record Event(String name, String id, String data) {
    }

    /** Reads events until {@code count} arrived or the stream ended. */
    static List<Event> read(Stream<String> lines, int count) {
        List<Event> events = new ArrayList<>();
        readEach(lines, event -> {
            events.add(event);
            return events.size() < count;
        });
        return events;
    }

    /** Hands each event to {@code more} until it answers false or the stream ends. */
    public static void readEach(Stream<String> lines, java.util.function.Predicate<Event> more) {
        String name = "message";
        String id = null;
        StringBuilder data = new StringBuilder();
        Iterator<String> it = lines.iterator();
        while (it.hasNext()) {
            String line = it.next();
            if (line.isEmpty()) {
                if (!data.isEmpty() && !more.test(new Event(name, id, data.toString()))) {
                    return;
                }
                name = "message";
                id = null;
                data.setLength(0);
            } else if (line.startsWith("event:")) {
                name = line.substring(6).trim();
            } else if (line.startsWith("id:")) {
                id = line.substring(3).trim();
            } else if (line.startsWith("data:")) {
                data.append(line.substring(5).trim());
            }
        }
    }

    Stream<String> open(String path, String authorization, String lastEventId) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .header("Accept", "text/event-stream").header("Authorization", authorization);
        if (lastEventId != null) {
            request.header("Last-Event-ID", lastEventId);
        }
        HttpResponse<Stream<String>> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, response.statusCode());
        return response.body();
    }

    static String submit(String code, String subject) {
        return given().header("Authorization", READER).contentType("application/json")
                .body("{\"code\":\"" + code + "\",\"subject\":\"" + subject + "\",\"sessionId\":\"sse-session\"}")
                .post("/executions").then().statusCode(202).extract().path("executionId");
    }

    @Test
    void oneExecutionStreamsStatusOutputThenResult() throws Exception {
        // Occupy the session so the watched execution is still queued when the stream opens.
        submit("import time\\ntime.sleep(1)", "sse/blocker");
        String id = submit("import time\\nfor i in range(3):\\n    print(i, flush=True)\\n    time.sleep(0.2)", "sse/watched");
        List<Event> events = CompletableFuture.supplyAsync(() -> {
            try (Stream<String> lines = open("/executions/" + id + "/events", READER, null)) {
                return read(lines, 100);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }).get(60, TimeUnit.SECONDS);
        List<String> names = events.stream().map(Event::name).toList();
        assertEquals("status", names.get(0), events.toString());
        assertTrue(names.contains("stdout"), events.toString());
        assertEquals("result", names.get(names.size() - 1), events.toString());
        assertTrue(names.indexOf("stdout") < names.indexOf("result"));
        assertTrue(events.get(events.size() - 1).data().contains("\"status\":\"Succeeded\""));
        String out = events.stream().filter(e -> e.name().equals("stdout")).map(Event::data).reduce("", String::concat);
        assertTrue(out.contains("0") && out.contains("2"), out);
    }

    @Test
    void theResultsStreamReplaysFromLastEventIdThenFollows() throws Exception {
        String run = "replay-" + java.util.UUID.randomUUID().toString().substring(0, 8) + "/";
        String first = submit("'first'", run + "a");
        io.sandstream.results.PipelineTest.awaitResult(first, READER); // stored before the second, whatever the timing
        given().header("Authorization", READER).queryParam("wait", 30).contentType("application/json")
                .body("{\"code\":\"'second'\",\"subject\":\"" + run + "b\"}").post("/executions").then().statusCode(200);
        List<Event> all;
        try (Stream<String> lines = open("/executions/stream?subject=" + run, READER, "0")) {
            all = read(lines, 2);
        }
        assertEquals(2, all.size());
        assertTrue(all.get(0).data().contains(first), all.toString());
        long firstId = Long.parseLong(all.get(0).id());
        assertTrue(Long.parseLong(all.get(1).id()) > firstId);

        // Reconnecting with the first id gets only what came after it, then live results.
        CompletableFuture<List<Event>> resumed = CompletableFuture.supplyAsync(() -> {
            try (Stream<String> lines = open("/executions/stream?subject=" + run, READER, Long.toString(firstId))) {
                return read(lines, 2);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(500);
        String third = submit("'third'", run + "c");
        List<Event> after = resumed.get(60, TimeUnit.SECONDS);
        assertTrue(after.get(0).data().contains("second"), after.toString());
        assertTrue(after.get(1).data().contains(third), after.toString());
    }

    @Test
    void aKeyOnlyStreamsItsSubjects() throws Exception {
        CompletableFuture<List<Event>> seen = CompletableFuture.supplyAsync(() -> {
            try (Stream<String> lines = open("/executions/stream", "Bearer tenant-a-key", null)) {
                return read(lines, 1);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(500);
        given().header("Authorization", READER).queryParam("wait", 30).contentType("application/json")
                .body("{\"code\":\"'other tenant'\",\"subject\":\"tenant-b/x\"}").post("/executions").then().statusCode(200);
        String mine = given().header("Authorization", "Bearer tenant-a-key").queryParam("wait", 30).contentType("application/json")
                .body("{\"code\":\"'mine'\"}").post("/executions").then().statusCode(200).extract().path("executionId");
        List<Event> events = seen.get(60, TimeUnit.SECONDS);
        assertTrue(events.get(0).data().contains(mine), events.toString());
    }

    @Test
    void streamsNeedAKey() {
        given().accept("text/event-stream").get("/executions/stream").then().statusCode(401);
        given().accept("text/event-stream").header("Authorization", "Bearer tenant-a-key").get("/executions/nope/events")
                .then().statusCode(404);
    }
}
