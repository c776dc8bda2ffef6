package io.sandstream.edge;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import org.jboss.logging.Logger;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.quarkus.vertx.http.runtime.filters.Filters;
import io.sandstream.ingress.IngressAuthenticator;
import io.sandstream.poolapi.PoolApiException;
import io.sandstream.problem.ErrorShapes;
import io.sandstream.problem.Problem;
import io.sandstream.problem.ProblemException;
import io.sandstream.security.ApiKeys;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.ext.web.RoutingContext;

/**
 * Credentials before bodies: the endpoints that take a body ({@code POST /events}, {@code POST
 * /executions}, the pool API's uploads and executions, every method of {@code /mcp}) are refused
 * without a valid credential before one byte of the body is read or spooled to disk, with the 401
 * their resource gives.
 * The resources check again; this only makes an unauthenticated request cheap.
 * <p>
 * {@code /events} gets the full {@link IngressAuthenticator} check, Entra ID tokens included:
 * Quarkus holds the request paused until a route installs a body handler, so validating a token on
 * a worker and only then calling {@code next()} reads nothing meanwhile, and a well-formed but
 * forged token cannot make the service read the body either.
 * <p>
 * A refusal closes an HTTP/1.x connection once the answer is written: the body still on its way is
 * never read (keep-alive would have to drain it first). The price: a client that writes its whole
 * body before it reads may see the connection reset instead of the 401.
 */
@ApplicationScoped
public class CredentialGuard {

    private static final Logger LOG = Logger.getLogger(CredentialGuard.class);
    /** After {@link HttpGuards} (200), before the size guard (100): a sender without a key learns no limits. */
    private static final int PRIORITY = 150;
    /** What follows {@code /pools/{pool}/} on the pool API's {@code POST}s that carry a body. */
    private static final Set<List<String>> POOL_POSTS = Set.of(List.of("code", "execute"), List.of("python", "execute"),
            List.of("executions"), List.of("files"), List.of("files", "upload"));

    private final ObjectMapper json;

    public CredentialGuard(ObjectMapper json) {
        this.json = json;
    }

    void register(@Observes Filters filters, IngressAuthenticator ingress, ApiKeys keys) {
        PoolApiException poolRefusal = PoolApiException.unauthorized();
        ErrorShapes.Rendered pool = ErrorShapes.azure(401, poolRefusal.code(), poolRefusal.getMessage(),
                poolRefusal.headers());
        filters.register(rc -> {
            if (segments(rc.normalizedPath()).equals(List.of("mcp"))) {
                // Every method of the MCP endpoint: its GET and DELETE name a session of the key too. MCP
                // clients read the challenge of a 401 (RFC 9110) to tell a refused key from other failures.
                apiKey(rc, keys, Map.of("WWW-Authenticate", "Bearer"));
                return;
            }
            if (rc.request().method() != HttpMethod.POST) {
                rc.next();
                return;
            }
            List<String> path = segments(rc.normalizedPath());
            if (path.equals(List.of("events"))) {
                events(rc, ingress);
            } else if (path.equals(List.of("executions"))) {
                apiKey(rc, keys, Map.of());
            } else if (path.size() > 2 && path.get(0).equals("pools") && POOL_POSTS.contains(path.subList(2, path.size()))) {
                if (keys.scopeOf(rc.request().getHeader("Authorization")).isPresent()) {
                    rc.next();
                } else {
                    refuse(rc, pool.contentType(), pool.headers(), pool.body());
                }
            } else {
                rc.next();
            }
        }, PRIORITY);
    }

    private void apiKey(RoutingContext rc, ApiKeys keys, Map<String, String> challenge) {
        try {
            keys.require(rc.request().getHeader("Authorization"));
            rc.next();
        } catch (ProblemException refused) {
            Map<String, String> headers = new HashMap<>(refused.headers());
            headers.putAll(challenge);
            refuse(rc, Problem.MEDIA_TYPE, headers, write(refused.problem()));
        }
    }

    /** Keys are checked in place; a token is validated on a worker, and the request goes on from its own context. */
    private void events(RoutingContext rc, IngressAuthenticator ingress) {
        Context context = Vertx.currentContext();
        ingress.authenticate(rc.queryParams().get("code"), rc.request().getHeader("aeg-sas-key"),
                rc.request().getHeader("Authorization")).subscribe().with(
                        ok -> on(context, rc::next),
                        failure -> on(context, () -> {
                            if (failure instanceof ProblemException refused) {
                                refuse(rc, refused);
                            } else {
                                // Not a refusal but a fault: the resource checks again and maps it in the one place.
                                LOG.debug("ingress credential check failed; left to the resource", failure);
                                rc.next();
                            }
                        }));
    }

    private static void on(Context context, Runnable action) {
        if (Vertx.currentContext() == context) {
            action.run();
        } else {
            context.runOnContext(ignored -> action.run());
        }
    }

    private void refuse(RoutingContext rc, ProblemException refused) {
        refuse(rc, Problem.MEDIA_TYPE, refused.headers(), write(refused.problem()));
    }

    private static void refuse(RoutingContext rc, String contentType, Map<String, String> headers, String body) {
        HttpServerResponse response = rc.response().setStatusCode(401).putHeader("Content-Type", contentType);
        headers.forEach(response::putHeader);
        boolean http1 = rc.request().version() != HttpVersion.HTTP_2;
        if (http1) {
            response.putHeader("Connection", "close");
        }
        response.end(body).onComplete(written -> {
            if (http1) {
                rc.request().connection().close();
            }
        });
    }

    /** The path's segments as JAX-RS matches them: empty segments (a trailing slash) and matrix parameters dropped. */
    static List<String> segments(String path) {
        List<String> segments = new ArrayList<>();
        for (String segment : path.split("/")) {
            int matrix = segment.indexOf(';');
            String plain = matrix < 0 ? segment : segment.substring(0, matrix);
            if (!plain.isEmpty()) {
                segments.add(plain);
            }
        }
        return segments;
    }

    private String write(Object body) {
        try {
            return json.writeValueAsString(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
