package io.sandstream.results;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.quarkus.test.junit.QuarkusTest;
import io.sandstream.model.Png;

/**
 * Rich results on real sandboxes: figures as PNG, tables as HTML, {@code display()}, the output cap
 * over them, and their shapes on {@code /executions} and both pool contracts.
 */
@QuarkusTest
public class RichResultsTest {

    static final String KEY = "Bearer test-reader";
    static final ObjectMapper JSON = new ObjectMapper();
    static final String PLOT_SHOW = "import matplotlib.pyplot as plt\nplt.plot([1, 4, 9])\nplt.show()\n";
    static final String LAST_FIGURE = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(4, 3))\n"
            + "ax.bar(['a', 'b'], [3, 5])\nfig";

    private final List<String> identifiers = new ArrayList<>();

    @AfterEach
    void deleteSessions() {
        identifiers.forEach(id -> given().header("Authorization", KEY).queryParam("api-version", "2025-10-02-preview")
                .queryParam("identifier", id).delete("/pools/python/session"));
    }

    String identifier() {
        String id = "rich-" + UUID.randomUUID();
        identifiers.add(id);
        return id;
    }

    static JsonNode execution(String code) throws Exception {
        String body = JSON.writeValueAsString(JSON.createObjectNode().put("code", code).put("subject", "rich/test")
                .put("timeoutSeconds", 60));
        return JSON.readTree(given().header("Authorization", KEY).contentType("application/json").body(body)
                .queryParam("wait", 90).post("/executions").then().statusCode(200).extract().asString());
    }

    static List<JsonNode> outputs(JsonNode doc, String type) {
        List<JsonNode> found = new ArrayList<>();
        doc.path("outputs").forEach(o -> {
            if (type.equals(o.path("type").textValue())) {
                found.add(o);
            }
        });
        return found;
    }

    static JsonNode legacy(String id, String code) throws Exception {
        String body = JSON.writeValueAsString(JSON.createObjectNode().set("properties", JSON.createObjectNode()
                .put("codeInputType", "inline").put("executionType", "synchronous").put("code", code)));
        return JSON.readTree(given().header("Authorization", KEY).queryParam("api-version", "2024-02-02-preview")
                .queryParam("identifier", id).contentType("application/json").body(body)
                .post("/pools/python/code/execute").then().statusCode(200).extract().asString());
    }

    static JsonNode resource(String id, String code) throws Exception {
        String body = JSON.writeValueAsString(JSON.createObjectNode().put("code", code).put("codeInputType", "Inline")
                .put("executionType", "Synchronous").put("timeoutInSeconds", 60));
        return JSON.readTree(given().header("Authorization", KEY).queryParam("api-version", "2025-10-02-preview")
                .queryParam("identifier", id).contentType("application/json").body(body)
                .post("/pools/python/executions").then().statusCode(200).extract().asString());
    }

    @Test
    void aShownFigureIsAPngOutput() throws Exception {
        JsonNode doc = execution(PLOT_SHOW);
        assertEquals("Succeeded", doc.get("status").textValue(), doc.toString());
        List<JsonNode> images = outputs(doc, "image/png");
        assertEquals(1, images.size(), "one figure, shown once: " + doc.get("outputs"));
        Png.assertPng(images.get(0).get("data").textValue(), 640, 480);
        assertTrue(doc.get("result").isNull(), "plt.show() has no value");
        assertFalse(doc.get("truncated").booleanValue());
    }

    @Test
    void aLastExpressionFigureIsAPngOutputAndClosed() throws Exception {
        JsonNode doc = execution(LAST_FIGURE + "\n");
        assertEquals("Succeeded", doc.get("status").textValue(), doc.toString());
        List<JsonNode> images = outputs(doc, "image/png");
        assertEquals(1, images.size(), "the figure once, not again as an open figure: " + doc.get("outputs"));
        Png.assertPng(images.get(0).get("data").textValue(), 400, 300);
        assertEquals("<Figure size 400x300 with 1 Axes>", outputs(doc, "text/plain").get(0).get("data").textValue());
    }

    @Test
    void figuresOnBothPoolContracts() throws Exception {
        String id = identifier();
        JsonNode shown = legacy(id, PLOT_SHOW).get("properties");
        assertEquals("Success", shown.get("status").textValue(), shown.toString());
        JsonNode image = shown.get("result");
        assertEquals("image", image.path("type").textValue(), shown.toString());
        assertEquals("png", image.path("format").textValue(), shown.toString());
        Png.assertPng(image.get("base64_data").textValue(), 640, 480);
        JsonNode last = legacy(id, LAST_FIGURE).get("properties").get("result");
        Png.assertPng(last.get("base64_data").textValue(), 400, 300);
        assertEquals("", legacy(id, "import matplotlib.pyplot as plt\nplt.get_fignums()").at("/properties/result")
                .textValue().replace("[]", ""), "every figure was closed after it was returned");

        String other = identifier();
        JsonNode result = resource(other, PLOT_SHOW).get("result");
        JsonNode executionResult = result.get("executionResult");
        assertEquals("image", executionResult.path("type").textValue(), result.toString());
        Png.assertPng(executionResult.get("base64_data").textValue(), 640, 480);
        Png.assertPng(resource(other, LAST_FIGURE).at("/result/executionResult/base64_data").textValue(), 400, 300);
    }

    @Test
    void aDataFrameIsTextAndAnHtmlTable() throws Exception {
        String code = "import pandas as pd\npd.DataFrame({'month': ['jan', 'feb'], 'revenue': [10, 12]})";
        JsonNode doc = execution(code);
        assertEquals("Succeeded", doc.get("status").textValue(), doc.toString());
        String html = outputs(doc, "text/html").get(0).get("data").textValue();
        assertTrue(html.contains("<table") && html.contains("<td>feb</td>") && html.contains("<td>12</td>"), html);
        String text = outputs(doc, "text/plain").get(0).get("data").textValue();
        assertTrue(text.contains("month") && text.contains("revenue") && text.contains("feb"), text);

        JsonNode series = execution("import pandas as pd\npd.Series([1, 2], name='n')");
        assertTrue(outputs(series, "text/html").get(0).get("data").textValue().contains("<table"), series.toString());

        JsonNode legacy = legacy(identifier(), code).get("properties");
        assertEquals(text, legacy.get("result").textValue(), "the legacy contract answers the text form");
    }

    @Test
    void displayAddsAnOutputPerCallByTheDisplayProtocol() throws Exception {
        String code = """
                class Card:
                    def _repr_html_(self):
                        return '<b>card</b>'
                    def _repr_markdown_(self):
                        return '**card**'
                    def _repr_json_(self):
                        return {'card': 1}
                class Icon:
                    def _repr_svg_(self):
                        return '<svg xmlns="http://www.w3.org/2000/svg"/>'
                display(Card())
                display(Icon(), 'text')
                print('after')
                7
                """;
        JsonNode doc = execution(code);
        assertEquals("Succeeded", doc.get("status").textValue(), doc.toString());
        assertEquals(7, doc.get("result").intValue(), "a scalar stays typed");
        assertEquals("after\n", doc.get("stdout").textValue());
        List<String> types = new ArrayList<>();
        doc.get("outputs").forEach(o -> types.add(o.get("type").textValue()));
        assertEquals(List.of("text/html", "text/markdown", "application/json", "text/plain", "image/svg+xml",
                "text/plain", "text/plain"), types, doc.get("outputs").toString());
        assertEquals("<b>card</b>", doc.at("/outputs/0/data").textValue());
        assertEquals(1, doc.at("/outputs/2/data/card").intValue(), "application/json is a JSON value");
        assertEquals("'text'", doc.at("/outputs/6/data").textValue());
    }

    @Test
    void aFigureFloodIsCappedAndTheSessionSurvives() throws Exception {
        String id = identifier();
        // About 50 MB of PNGs if nothing stopped it.
        String flood = "import matplotlib.pyplot as plt\nfor i in range(2500):\n"
                + "    plt.figure()\n    plt.plot(range(i % 50 + 2))\n    plt.show()\n";
        JsonNode answer = resource(id, flood);
        assertEquals("Failed", answer.get("status").textValue(), answer.toString().substring(0, 300));
        assertEquals(2, legacy(id, "1 + 1").at("/properties/result").intValue(), "the session survives");

        JsonNode doc = execution(flood);
        String summary = doc.toString().substring(0, Math.min(2000, doc.toString().length()));
        assertTrue(doc.get("truncated").booleanValue(), summary);
        assertTrue(doc.has("outputs"), summary);
        assertEquals("output", doc.get("limitHit").textValue());
        long bytes = 0;
        for (JsonNode o : doc.get("outputs")) {
            bytes += o.get("data").textValue().length();
        }
        assertTrue(bytes > 0 && bytes <= 1024 * 1024, "outputs within the 1 MiB cap: " + bytes);
        Png.size(outputs(doc, "image/png").get(0).get("data").textValue());

        JsonNode display = execution("for i in range(100000):\n    display('x' * 1000)\n");
        assertTrue(display.get("truncated").booleanValue());
        assertEquals("output", display.get("limitHit").textValue());
        assertTrue(display.get("outputs").size() < 1100, "display() stops at the cap");
    }

    @Test
    void nonScalarsAreTheirTextFormOnTheLegacyContract() throws Exception {
        String id = identifier();
        String list = legacy(id, "[f'package-{i}' for i in range(12)]").at("/properties/result").textValue();
        assertTrue(list.startsWith("['package-0',\n 'package-1',\n"), list);
        assertTrue(list.endsWith("'package-11']"), list);
        assertEquals("{'a': 1, 'b': [1, 2]}", legacy(id, "{'a': 1, 'b': [1, 2]}").at("/properties/result").textValue());
        String dict = legacy(id, "{f'key{i}': i for i in range(10)}").at("/properties/result").textValue();
        assertTrue(dict.startsWith("{'key0': 0,\n 'key1': 1,\n"), dict);
        assertEquals("[1, 2]", resource(id, "[1, 2]").at("/result/executionResult").textValue(), "resource contract too");
        // Scalars stay typed.
        assertEquals(42, legacy(id, "6 * 7").at("/properties/result").intValue());
        assertEquals("abc", legacy(id, "'abc'").at("/properties/result").textValue());
        assertTrue(legacy(id, "True").at("/properties/result").booleanValue());
        // On /executions a list stays a JSON value, and documents without rich outputs have no "outputs".
        JsonNode doc = execution("[1, 2]");
        assertEquals(2, doc.get("result").size(), doc.toString());
        assertFalse(doc.has("outputs"), doc.toString());
        assertNull(doc.get("error").textValue());
    }
}
