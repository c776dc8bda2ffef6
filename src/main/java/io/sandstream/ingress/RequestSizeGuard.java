package io.sandstream.ingress;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import io.quarkus.vertx.http.runtime.filters.Filters;
import io.sandstream.config.SandstreamConfig;
import io.vertx.core.http.HttpMethod;

/**
 * Refuses an oversized {@code POST /events} from its {@code Content-Length} alone, before the body
 * is read, with the same problem JSON the resource gives. Bodies without a length are measured by
 * the resource.
 */
@ApplicationScoped
public class RequestSizeGuard {

    private static final int PRIORITY = 100;

    void register(@Observes Filters filters, SandstreamConfig config) {
        long max = config.ingress().maxRequestBytes();
        String problem = "{\"type\":\"https://sandstream.io/problems/too-large\",\"title\":\"Payload too large\","
                + "\"status\":413,\"detail\":\"A request may carry at most " + max + " bytes.\"}";
        filters.register(rc -> {
            String length = rc.request().getHeader("Content-Length");
            if (rc.request().method() == HttpMethod.POST && rc.normalizedPath().equals("/events") && length != null
                    && tooLong(length, max)) {
                rc.response().setStatusCode(413).putHeader("Content-Type", "application/problem+json")
                        .putHeader("Connection", "close").end(problem);
                return;
            }
            rc.next();
        }, PRIORITY);
    }

    private static boolean tooLong(String contentLength, long max) {
        try {
            return Long.parseLong(contentLength.trim()) > max;
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
