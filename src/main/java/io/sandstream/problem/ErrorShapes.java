package io.sandstream.problem;

import java.util.LinkedHashMap;
import java.util.Map;

import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.vertx.core.Future;
import io.vertx.core.http.HttpServerResponse;

/**
 * The one place that decides what an error looks like on the wire. Everywhere it is problem JSON
 * (API.md), except under {@code /pools/}: the dynamic-sessions clients parse Azure's error body
 * {@code {"error":{"code","message"}}} and its {@code x-ms-error-code} header, so every error there
 * is in that shape, the framework's own (unknown path, wrong method, media type, size) and those
 * the HTTP edge writes below the router included. The JAX-RS mappers, the edge's filters and the
 * connection guard all render through here.
 */
public final class ErrorShapes {

    /** The dynamic-sessions data plane: everything under it speaks Azure's error shape. */
    public static final String POOLS = "/pools";
    public static final String AZURE_CODE_HEADER = "x-ms-error-code";
    private static final ObjectMapper JSON = new ObjectMapper();

    private ErrorShapes() {
    }

    /** An error ready to write: its status, content type, extra headers and body text. */
    public record Rendered(int status, String contentType, Map<String, String> headers, String body) {
    }

    /** True for a request path (or a request-target with a query) under {@code /pools}. */
    public static boolean azure(String path) {
        if (path == null) {
            return false;
        }
        int query = path.indexOf('?');
        String plain = query < 0 ? path : path.substring(0, query);
        return plain.equals(POOLS) || plain.startsWith(POOLS + "/");
    }

    /**
     * A problem in the shape the request's path speaks. Under {@code /pools/} the Azure code is the
     * status's reason phrase in PascalCase ({@code NotFound}, {@code MethodNotAllowed},
     * {@code UnsupportedMediaType}, …), except a body that is not JSON, which is the pool API's own
     * {@code InvalidRequestBody}; the message is the problem's detail.
     */
    public static Rendered render(String path, Problem problem, Map<String, String> headers) {
        if (!azure(path)) {
            return new Rendered(problem.status(), Problem.MEDIA_TYPE, headers, write(problem));
        }
        String code = problem.type() != null && problem.type().endsWith("/malformed-json") ? "InvalidRequestBody"
                : azureCode(problem.status());
        return azure(problem.status(), code, problem.detail(), headers);
    }

    /** An Azure error body with its {@code x-ms-error-code}. */
    public static Rendered azure(int status, String code, String message, Map<String, String> headers) {
        Map<String, String> all = new LinkedHashMap<>(headers);
        all.put(AZURE_CODE_HEADER, code);
        return new Rendered(status, MediaType.APPLICATION_JSON, all,
                write(new AzureError(new AzureError.Detail(code, message))));
    }

    /** The same, as a JAX-RS response. */
    public static Response response(Rendered rendered) {
        Response.ResponseBuilder builder = Response.status(rendered.status()).type(rendered.contentType())
                .entity(rendered.body());
        rendered.headers().forEach(builder::header);
        return builder.build();
    }

    /** Writes the error as the whole answer of a request a Vert.x filter refuses. */
    public static Future<Void> end(HttpServerResponse response, Rendered error) {
        response.setStatusCode(error.status()).putHeader("Content-Type", error.contentType());
        error.headers().forEach(response::putHeader);
        return response.end(error.body());
    }

    /** {@code Not Found} → {@code NotFound}; a status without a reason phrase is {@code Http<status>}. */
    static String azureCode(int status) {
        Response.Status known = Response.Status.fromStatusCode(status);
        if (known == null) {
            return status == 431 ? "RequestHeaderFieldsTooLarge" : "Http" + status;
        }
        StringBuilder code = new StringBuilder();
        for (String word : known.getReasonPhrase().split("[^A-Za-z]+")) {
            if (!word.isEmpty()) {
                code.append(Character.toUpperCase(word.charAt(0))).append(word.substring(1));
            }
        }
        return code.toString();
    }

    private static String write(Object body) {
        try {
            return JSON.writeValueAsString(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
