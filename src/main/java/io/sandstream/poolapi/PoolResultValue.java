package io.sandstream.poolapi;

import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;

import io.sandstream.model.Output;
import io.sandstream.sessions.ExecutionResult;

/**
 * {@code result} on both pool contracts, as a Jupyter-backed dynamic session answers it:
 * <ol>
 * <li>a figure (an {@code image/png} output: the last expression, {@code plt.show()} or a figure
 * left open) is {@code {"type":"image","format":"png","base64_data":…}}, which LangChain,
 * LangChain4j and LlamaIndex read; with several, the last one;</li>
 * <li>else a non-scalar last expression (list, dict, DataFrame, any object) is its {@code text/plain}
 * form, a string: {@code repr}, one element per line when it is longer than a line (what AutoGen's
 * package probe splits on {@code ",\n"});</li>
 * <li>else the scalar itself, typed (number, string, boolean), and {@code ""} when there is no value.</li>
 * </ol>
 */
final class PoolResultValue {

    private PoolResultValue() {
    }

    static JsonNode of(ExecutionResult result) {
        List<Output> outputs = result.outputs();
        for (int i = outputs.size() - 1; i >= 0; i--) {
            Output output = outputs.get(i);
            if ("image/png".equals(output.type()) && output.data() != null && output.data().isTextual()) {
                ObjectNode image = JsonNodeFactory.instance.objectNode();
                image.put("type", "image").put("format", "png").put("base64_data", output.data().textValue());
                return image;
            }
        }
        if (result.text() != null) {
            return TextNode.valueOf(result.text());
        }
        return result.result() == null || result.result().isNull() ? TextNode.valueOf("") : result.result();
    }
}
