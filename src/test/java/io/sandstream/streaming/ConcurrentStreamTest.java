package io.sandstream.streaming;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import jakarta.inject.Inject;

import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.Test;

import io.quarkus.test.junit.QuarkusTest;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.model.ResultDocument;
import io.sandstream.results.ResultBus;
import io.sandstream.results.ResultStore;
import io.sandstream.results.StoredResult;

/**
 * Results persisted by several writers at once reach the bus in whatever order their commits
 * complete on the worker pool, not in sequence order. A results stream opened from id 0 must still
 * send every stored result exactly once, in sequence order. The writers do what the dispatcher
 * does: store, then publish from the thread the store completed on. The Kafka mode runs the same
 * test against its copy of the results topic ({@code kafka/KafkaConcurrentStreamTest}).
 */
@QuarkusTest
public class ConcurrentStreamTest {

    static final int WRITERS = 4;
    static final int PER_WRITER = 400;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;
    @Inject
    ResultStore store;
    @Inject
    ResultBus bus;

    @Test
    public void aLiveReaderFromIdZeroGetsEveryConcurrentlyStoredResultOnceAndInOrder() throws Exception {
        String run = "concurrent-" + UUID.randomUUID().toString().substring(0, 8);
        List<StreamResourceTest.Event> received = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch subscribed = new CountDownLatch(1);
        String end = run + "-end";
        CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
            try (Stream<String> lines = open("/executions/stream?subject=" + run + "/", "0")) {
                subscribed.countDown();
                StreamResourceTest.readEach(lines, event -> {
                    received.add(event);
                    return !event.data().contains(end);
                });
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        subscribed.await(30, TimeUnit.SECONDS);

        // Several writers at once, as finished executions arrive from several sessions.
        java.util.Set<Long> stored = ConcurrentHashMap.newKeySet();
        ExecutorService writers = Executors.newFixedThreadPool(WRITERS);
        List<CompletableFuture<Void>> done = new ArrayList<>();
        for (int w = 0; w < WRITERS; w++) {
            int writer = w;
            done.add(CompletableFuture.runAsync(() -> {
                List<CompletableFuture<StoredResult>> puts = new ArrayList<>();
                for (int i = 0; i < PER_WRITER; i++) {
                    puts.add(store.put(document(run + "-" + writer + "-" + i, run + "/w" + writer))
                            .invoke(bus::published).subscribeAsCompletionStage());
                }
                puts.forEach(put -> stored.add(put.join().sequence()));
            }, writers));
        }
        CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(120, TimeUnit.SECONDS);
        writers.shutdown();
        // Stored after every other one: once the reader has it, it has had its chance at all of them.
        StoredResult last = store.put(document(end, run + "/end")).invoke(bus::published).await().atMost(Duration.ofSeconds(30));
        stored.add(last.sequence());
        reader.get(120, TimeUnit.SECONDS);

        List<Long> ids = received.stream().map(e -> Long.parseLong(e.id())).toList();
        List<Long> expected = stored.stream().sorted().toList();
        assertEquals(WRITERS * PER_WRITER + 1, expected.size());
        String summary = summary(expected, ids);
        System.out.println("concurrent stream: " + summary);
        assertEquals(summary(expected, expected), summary, "every stored result once, in sequence order");
        assertEquals(expected, ids);
    }

    /** What a reader got of what was stored, short enough for a failure message. */
    static String summary(List<Long> stored, List<Long> received) {
        java.util.Set<Long> got = new java.util.HashSet<>(received);
        long missing = stored.stream().filter(id -> !got.contains(id)).count();
        long repeated = received.size() - got.size();
        long backwards = 0;
        for (int i = 1; i < received.size(); i++) {
            backwards += received.get(i) <= received.get(i - 1) ? 1 : 0;
        }
        return "%d stored, %d received, %d missing, %d repeated, %d out of order".formatted(stored.size(),
                received.size(), missing, repeated, backwards);
    }

    static ResultDocument document(String executionId, String subject) {
        Instant now = Instant.now();
        return ResultDocument.builder().executionId(executionId)
                .event(executionId, "/tests/concurrent", subject, "io.sandstream.code.execute")
                .language(Language.PYTHON).priority(Priority.NORMAL).backend("local").status(ExecutionStatus.Succeeded)
                .timings(ResultDocument.Timings.ran(now, now, now, 0)).attempt(1).build();
    }

    Stream<String> open(String path, String lastEventId) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
                .header("Accept", "text/event-stream").header("Authorization", StreamResourceTest.READER)
                .header("Last-Event-ID", lastEventId).build();
        HttpResponse<Stream<String>> response = HTTP.send(request, HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, response.statusCode());
        return response.body();
    }
}
