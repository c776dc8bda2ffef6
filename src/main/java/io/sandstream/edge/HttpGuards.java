package io.sandstream.edge;

import java.util.Map;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import io.quarkus.vertx.http.runtime.filters.Filters;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.problem.Problem;
import io.sandstream.security.ApiKeys;
import io.vertx.ext.web.RoutingContext;

/**
 * Checks in front of every route, before any body is read: too many request headers is a 431
 * (their total size is bounded by {@code quarkus.http.limits.max-header-size}), and
 * {@code /q/metrics} needs an API key unless {@code sandstream.security.public-metrics} is set.
 * Refusals take the shape of their path ({@link HttpEdge#refuse}).
 */
@ApplicationScoped
public class HttpGuards {

    /** Before the size guard and every route. */
    private static final int PRIORITY = 200;
    private static final String METRICS = "/q/metrics";

    void register(@Observes Filters filters, SandstreamConfig config, ApiKeys keys) {
        int maxHeaders = config.security().maxHeaders();
        boolean publicMetrics = config.security().publicMetrics();
        filters.register(rc -> {
            if (fields(rc.request().headers(), maxHeaders) > maxHeaders) {
                refuse(rc, 431, "too-many-headers", "Request header fields too large",
                        "A request may carry at most " + maxHeaders + " header fields.", false);
                return;
            }
            String path = rc.normalizedPath();
            if (!publicMetrics && (path.equals(METRICS) || path.startsWith(METRICS + "/"))
                    && keys.scopeOf(rc.request().getHeader("Authorization")).isEmpty()) {
                refuse(rc, 401, "unauthorized", "Unauthorized", "Send a valid API key as Authorization: Bearer <key>.", true);
                return;
            }
            rc.next();
        }, PRIORITY);
    }

    /** Header fields, a repeated name counted each time, up to one past {@code max}. */
    private static int fields(io.vertx.core.MultiMap headers, int max) {
        int count = 0;
        for (var ignored : headers) {
            if (++count > max) {
                break;
            }
        }
        return count;
    }

    private static void refuse(RoutingContext rc, int status, String slug, String title, String detail, boolean bearer) {
        HttpEdge.refuse(rc, Problem.of(status, slug, title, detail),
                bearer ? Map.of("WWW-Authenticate", "Bearer") : Map.of());
    }
}
