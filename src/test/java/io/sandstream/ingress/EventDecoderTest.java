package io.sandstream.ingress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.cloudevents.CloudEvent;
import io.sandstream.config.TestConfigs;
import io.sandstream.problem.Problem.FieldError;

class EventDecoderTest {

    private final EventDecoder decoder = new EventDecoder(TestConfigs.sandstream(Map.of()));

    private DecodedRequest decode(String contentType, Map<String, String> headers, String body) {
        Map<String, String> lower = new LinkedHashMap<>();
        headers.forEach((k, v) -> lower.put(k.toLowerCase(), v));
        return decoder.decode(contentType, name -> lower.get(name.toLowerCase()), headers.keySet(),
                body.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void percentDecodingFollowsTheHttpBinding() {
        assertEquals("café €", EventDecoder.percentDecode("caf%C3%A9%20%E2%82%AC"));
        assertEquals("100%", EventDecoder.percentDecode("100%"));
        assertEquals("%zz", EventDecoder.percentDecode("%zz"));
        assertEquals("\"quoted\"", EventDecoder.percentDecode("%22quoted%22"));
        assertEquals("plain", EventDecoder.percentDecode("plain"));
    }

    @Test
    void binaryHeadersBecomeAttributesAndExtensions() {
        DecodedRequest.Events events = (DecodedRequest.Events) decode("application/json", Map.of(
                "ce-specversion", "1.0", "CE-ID", "42", "ce-source", "/s", "ce-type", "t",
                "ce-subject", "a%2Fb", "ce-time", "2025-07-23T10:00:00.5+02:00", "ce-priority", "high"), "{\"code\":\"1\"}");
        CloudEvent event = assertInstanceOf(IncomingEvent.Parsed.class, events.events().get(0)).event();
        assertEquals("42", event.getId());
        assertEquals("a/b", event.getSubject());
        assertEquals("high", event.getExtension("priority"));
        assertEquals("application/json", event.getDataContentType());
        assertFalse(events.batch());
    }

    @Test
    void attributeRulesTheSdkDoesNotEnforce() {
        String body = """
                [{"specversion":"1.0","id":"","source":"/s","type":"t"},
                 {"specversion":"1.0","id":"1","source":"/s","type":""},
                 {"specversion":"0.3","id":"1","source":"/s","type":"t"},
                 {"specversion":"1.0","id":"1","source":"::not a uri","type":"t"},
                 {"specversion":"1.0","id":"1","source":"/s","type":"t","time":"2025-02-30T10:00:00Z"},
                 {"specversion":"1.0","id":"1","source":"/s","type":"t","myExt":"x"},
                 {"specversion":"1.0","id":"1","source":"/s","type":"t","my-ext":"x"},
                 {"specversion":"1.0","id":"1","source":"/s","type":"t","data":{},"data_base64":"AA=="},
                 {"specversion":"1.0","id":"1","source":"urn:a:b","type":"t","time":"2025-07-23t10:00:00z","ext1":"ok"}]""";
        DecodedRequest.Events events = (DecodedRequest.Events) decode("application/cloudevents-batch+json", Map.of(), body);
        List<String> firstPointers = events.events().subList(0, 8).stream()
                .map(e -> assertInstanceOf(IncomingEvent.Malformed.class, e).errors().get(0))
                .map(FieldError::pointer).toList();
        assertEquals(List.of("/0/id", "/1/type", "/2/specversion", "/3/source", "/4/time", "/5/myExt", "/6/my-ext",
                "/7/data_base64"), firstPointers);
        assertInstanceOf(IncomingEvent.Parsed.class, events.events().get(8));
    }

    @Test
    void eventGridSchemaIsMappedToCloudEvents() {
        String body = """
                [{"id":"e1","topic":"/subscriptions/s/topics/t","eventType":"Microsoft.EventGrid.ExecuteCode","subject":"code-execution/x",
                  "dataVersion":"2","eventTime":"2025-07-23T10:00:00Z","data":{"code":"1"}}]""";
        DecodedRequest.Events events = (DecodedRequest.Events) decode("application/json", Map.of(), body);
        CloudEvent event = assertInstanceOf(IncomingEvent.Parsed.class, events.events().get(0)).event();
        assertEquals("/subscriptions/s/topics/t", event.getSource().toString());
        assertEquals("Microsoft.EventGrid.ExecuteCode", event.getType());
        assertEquals("code-execution/x", event.getSubject());
        assertEquals("2", event.getExtension("dataversion"));
        assertEquals(2025, event.getTime().getYear());
        assertTrue(events.batch());
    }

    @Test
    void cloudEventsSentAsPlainJsonAreRecognised() {
        DecodedRequest.Events events = (DecodedRequest.Events) decode("application/json", Map.of(),
                "{\"specversion\":\"1.0\",\"id\":\"1\",\"source\":\"/s\",\"type\":\"t\"}");
        assertInstanceOf(IncomingEvent.Parsed.class, events.events().get(0));
    }

    @Test
    void mediaTypesIgnoreParametersAndCase() {
        assertEquals("application/cloudevents+json", io.sandstream.validation.ExecuteEvents.mediaType("Application/CloudEvents+JSON; charset=UTF-8"));
        assertEquals(null, io.sandstream.validation.ExecuteEvents.mediaType(null));
    }
}
