package io.sandstream.outbound;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.IntNode;

import io.cloudevents.CloudEvent;
import io.cloudevents.SpecVersion;
import io.cloudevents.jackson.JsonFormat;
import io.sandstream.config.TestConfigs;
import io.sandstream.model.ExecutionStatus;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.model.ResultDocument;

/** The outbound event, checked by parsing what is sent back with the CloudEvents SDK. */
class ResultEventsTest {

    private static final ObjectMapper JSON = new ObjectMapper().registerModule(JsonFormat.getCloudEventJacksonModule());
    private final ResultEvents events = new ResultEvents(TestConfigs.sandstream(Map.of()));

    static ResultDocument document(String source, String subject) {
        return ResultDocument.builder().executionId("6f1c2d3e-0000-5000-8000-000000000001")
                .event("evt-1", source, subject, "io.sandstream.code.execute")
                .language(Language.PYTHON).priority(Priority.NORMAL).backend("local").status(ExecutionStatus.Succeeded)
                .output("héllo \"x\"\n", "").result(IntNode.valueOf(42))
                .timings(new ResultDocument.Timings("2030-01-02T03:04:05.100Z", "2030-01-02T03:04:05.200Z",
                        "2030-01-02T03:04:05.678Z", 100L, 478L))
                .attempt(1).build();
    }

    @Test
    void structuredModeRoundTripsThroughTheSdk() throws Exception {
        ResultDocument doc = document("/tests/origin", "jobs/1");
        byte[] wire = events.structured(events.of(doc));
        CloudEvent parsed = new JsonFormat().deserialize(wire);

        assertEquals(SpecVersion.V1, parsed.getSpecVersion());
        assertEquals("io.sandstream.code.executed", parsed.getType());
        assertEquals(URI.create("/tests/origin"), parsed.getSource());
        assertEquals("jobs/1", parsed.getSubject());
        assertEquals(doc.executionId(), parsed.getId());
        assertEquals(doc.executionId(), parsed.getExtension("executionid"));
        assertEquals(OffsetDateTime.parse("2030-01-02T03:04:05.678Z"), parsed.getTime());
        assertEquals("application/json", parsed.getDataContentType());
        JsonNode data = JSON.readTree(parsed.getData().toBytes());
        assertEquals(JSON.readTree(JSON.writeValueAsBytes(doc)), data);
        assertEquals(42, data.get("result").asInt());
        // data is inline JSON, not base64: receivers read it as the result document directly
        JsonNode tree = JSON.readTree(wire);
        assertTrue(tree.get("data").isObject(), tree.toString());
        assertTrue(!tree.has("data_base64"));
    }

    @Test
    void theIdIsTheSameForTheSameExecution() {
        CloudEvent first = events.of(document("/a", "s"));
        CloudEvent again = events.of(document("/a", "s"));
        assertEquals(first.getId(), again.getId());
        assertArrayEquals(events.structured(first), events.structured(again));
    }

    @Test
    void aMissingOrBrokenSourceFallsBackToTheDefaultAndNoSubjectIsOmitted() throws Exception {
        CloudEvent none = events.of(document(null, null));
        assertEquals(URI.create("/sandstream"), none.getSource());
        assertNull(none.getSubject());
        assertTrue(!JSON.readTree(events.structured(none)).has("subject"));
        assertEquals(URI.create("/sandstream"), events.of(document("not a uri", "s")).getSource());
        ResultEvents custom = new ResultEvents(TestConfigs.sandstream(Map.of("sandstream.outbound.default-source",
                "https://sandstream.example/results")));
        assertEquals(URI.create("https://sandstream.example/results"), custom.of(document("", "s")).getSource());
    }

    @Test
    void aBatchIsAJsonArrayOfTheSameEvents() throws Exception {
        CloudEvent event = events.of(document("/b", "s/1"));
        byte[] batch = events.batch(List.of(event));
        assertTrue(JSON.readTree(batch).isArray());
        List<CloudEvent> parsed = JSON.readValue(batch, new TypeReference<List<CloudEvent>>() {
        });
        assertEquals(1, parsed.size());
        assertEquals(event.getId(), parsed.get(0).getId());
        assertEquals(JSON.readTree(event.getData().toBytes()), JSON.readTree(parsed.get(0).getData().toBytes()));
    }

    @Test
    void binaryModeHeadersArePercentEncodedWhereTheBindingSaysSo() {
        CloudEvent event = events.of(document("/b", "naïve subject %\"x\""));
        Map<String, String> headers = SinkClient.binaryHeaders(event);
        assertEquals("1.0", headers.get("ce-specversion"));
        assertEquals("io.sandstream.code.executed", headers.get("ce-type"));
        assertEquals("na%C3%AFve%20subject%20%25%22x%22", headers.get("ce-subject"));
        assertEquals(event.getId(), headers.get("ce-executionid"));
        assertEquals("héllo \"x\"\n", readDoc(events.data(event)).get("stdout").asText());
    }

    private static JsonNode readDoc(byte[] bytes) {
        try {
            return JSON.readTree(new String(bytes, StandardCharsets.UTF_8));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
