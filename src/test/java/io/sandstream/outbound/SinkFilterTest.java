package io.sandstream.outbound;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.TestConfigs;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.model.ResultDocument;

/** Which results a sink takes, and where it sends them, from the real config mapping. */
class SinkFilterTest {

    static SandstreamConfig.Sink sink(Map<String, String> properties) {
        Map<String, String> all = new java.util.HashMap<>(properties);
        all.putIfAbsent("sandstream.sinks.s.url", "http://127.0.0.1:9/in");
        return TestConfigs.sandstream(all).sinks().get("s");
    }

    static ResultDocument doc(String subject, ExecutionStatus status) {
        return ResultDocument.builder().executionId("e").event("i", "/src", subject, "t").language(Language.PYTHON)
                .priority(Priority.NORMAL).backend("local").status(status).attempt(1).build();
    }

    @Test
    void everythingWithoutFilters() {
        SandstreamConfig.Sink s = sink(Map.of());
        assertTrue(SinkChannel.wants(s, doc(null, ExecutionStatus.Succeeded)));
        assertTrue(SinkChannel.wants(s, doc("a/b", ExecutionStatus.Rejected)));
        assertEquals(SandstreamConfig.Sink.Kind.CLOUDEVENTS, s.kind());
        assertEquals(8, s.maxAttempts());
        assertEquals(10000, s.queueCapacity());
    }

    @Test
    void subjectPrefixAndStatusMustBothMatch() {
        SandstreamConfig.Sink s = sink(Map.of("sandstream.sinks.s.subject-prefix", "billing/",
                "sandstream.sinks.s.status", "failed,timed-out"));
        assertTrue(SinkChannel.wants(s, doc("billing/42", ExecutionStatus.Failed)));
        assertTrue(SinkChannel.wants(s, doc("billing/42", ExecutionStatus.TimedOut)));
        assertFalse(SinkChannel.wants(s, doc("billing/42", ExecutionStatus.Succeeded)));
        assertFalse(SinkChannel.wants(s, doc("other/42", ExecutionStatus.Failed)));
        assertFalse(SinkChannel.wants(s, doc(null, ExecutionStatus.Failed)));
    }

    @Test
    void anEventGridTopicGetsTheApiVersionItsSdksSend() {
        assertEquals(URI.create("https://t.westeurope-1.eventgrid.azure.net/api/events?api-version=2018-01-01"),
                SinkClient.target(sink(Map.of("sandstream.sinks.s.kind", "eventgrid",
                        "sandstream.sinks.s.url", "https://t.westeurope-1.eventgrid.azure.net/api/events"))));
        assertEquals(URI.create("https://t.example/api/events?api-version=2099-01-01"),
                SinkClient.target(sink(Map.of("sandstream.sinks.s.kind", "eventgrid",
                        "sandstream.sinks.s.url", "https://t.example/api/events?api-version=2099-01-01"))));
        assertEquals(URI.create("http://127.0.0.1:9/in"), SinkClient.target(sink(Map.of())));
    }

    @Test
    void onlyAbsoluteHttpUrls() {
        assertThrows(IllegalArgumentException.class,
                () -> SinkClient.target(sink(Map.of("sandstream.sinks.s.url", "file:///etc/passwd"))));
        assertThrows(IllegalArgumentException.class,
                () -> SinkClient.target(sink(Map.of("sandstream.sinks.s.url", "/relative"))));
    }
}
