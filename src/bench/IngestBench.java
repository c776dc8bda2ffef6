import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Ingest load generator (not a test): drives a running sandstream over loopback and prints
 * accepted events/s and request latency for single events and for batches, next to a baseline
 * measured in the same run (the bare HTTP round trip of OPTIONS /events, no journal).
 *
 * Run: java src/bench/IngestBench.java http://127.0.0.1:18080 KEY [seconds per phase]
 */
public class IngestBench {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private static final AtomicLong IDS = new AtomicLong();

    record Phase(String name, long requests, long events, long errors, double seconds, long[] latenciesNanos) {
        double eventsPerSecond() {
            return events / seconds;
        }

        double requestsPerSecond() {
            return requests / seconds;
        }

        double percentileMs(double p) {
            if (latenciesNanos.length == 0) {
                return Double.NaN;
            }
            return latenciesNanos[(int) Math.min(latenciesNanos.length - 1, Math.floor(p * latenciesNanos.length))] / 1e6;
        }
    }

    interface RequestFactory {
        HttpRequest next();
    }

    public static void main(String[] args) throws Exception {
        String base = args[0];
        String key = args[1];
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 15;
        String run = Long.toString(System.currentTimeMillis(), 36);

        RequestFactory options = () -> HttpRequest.newBuilder(URI.create(base + "/events"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody())
                .header("WebHook-Request-Origin", "bench.example.com").build();
        RequestFactory single = () -> post(base, key, "application/cloudevents+json", event(run));
        RequestFactory batch = () -> {
            StringBuilder body = new StringBuilder("[");
            for (int i = 0; i < 100; i++) {
                body.append(i > 0 ? "," : "").append(event(run));
            }
            return post(base, key, "application/cloudevents-batch+json", body.append(']').toString());
        };

        run("warm-up", single, 1, 16, Math.max(3, seconds / 3));
        List<Phase> phases = new ArrayList<>();
        phases.add(run("baseline: OPTIONS /events (no journal)", options, 0, 32, seconds));
        phases.add(run("single events, 32 concurrent", single, 1, 32, seconds));
        phases.add(run("batches of 100, 8 concurrent", batch, 100, 8, seconds));
        phases.add(run("batches of 100, 32 concurrent", batch, 100, 32, seconds));

        double baseline = phases.get(0).requestsPerSecond();
        System.out.printf("%n%-40s %12s %12s %10s %10s %8s %10s%n", "phase", "events/s", "requests/s", "p50 ms",
                "p99 ms", "errors", "vs base");
        for (Phase p : phases) {
            System.out.printf("%-40s %12.0f %12.0f %10.2f %10.2f %8d %9.2fx%n", p.name(), p.eventsPerSecond(),
                    p.requestsPerSecond(), p.percentileMs(0.50), p.percentileMs(0.99), p.errors(),
                    p.requestsPerSecond() / baseline);
        }
    }

    private static String event(String run) {
        long n = IDS.incrementAndGet();
        return "{\"specversion\":\"1.0\",\"id\":\"" + run + "-" + n + "\",\"source\":\"/bench/tenant-" + (n % 8)
                + "\",\"type\":\"io.sandstream.code.execute\",\"subject\":\"code-execution/bench\","
                + "\"data\":{\"code\":\"print(sum(range(" + n + ")))\",\"sessionId\":\"bench-" + (n % 16) + "\"}}";
    }

    private static HttpRequest post(String base, String key, String contentType, String body) {
        return HttpRequest.newBuilder(URI.create(base + "/events")).header("Content-Type", contentType)
                .header("aeg-sas-key", key).timeout(Duration.ofSeconds(30))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private static Phase run(String name, RequestFactory factory, int eventsPerRequest, int concurrency, int seconds)
            throws InterruptedException {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        List<long[]> perThread = new ArrayList<>();
        long[] requests = new long[concurrency];
        long[] errors = new long[concurrency];
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        for (int t = 0; t < concurrency; t++) {
            int slot = t;
            long[][] latencies = {new long[1 << 16]};
            perThread.add(null);
            Thread thread = new Thread(() -> {
                int count = 0;
                while (System.nanoTime() < end) {
                    HttpRequest request = factory.next();
                    long sent = System.nanoTime();
                    try {
                        HttpResponse<Void> response = HTTP.send(request, HttpResponse.BodyHandlers.discarding());
                        int status = response.statusCode();
                        if (status != 200 && status != 202) {
                            errors[slot]++;
                            continue;
                        }
                    } catch (Exception e) {
                        errors[slot]++;
                        continue;
                    }
                    if (count == latencies[0].length) {
                        latencies[0] = Arrays.copyOf(latencies[0], count * 2);
                    }
                    latencies[0][count++] = System.nanoTime() - sent;
                    requests[slot]++;
                }
                synchronized (perThread) {
                    perThread.set(slot, Arrays.copyOf(latencies[0], count));
                }
            });
            threads.add(thread);
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        long[] all = perThread.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        long ok = Arrays.stream(requests).sum();
        return new Phase(name, ok, ok * eventsPerRequest, Arrays.stream(errors).sum(), elapsed, all);
    }
}
