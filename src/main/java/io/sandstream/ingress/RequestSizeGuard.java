package io.sandstream.ingress;

import java.util.Map;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import org.eclipse.microprofile.config.inject.ConfigProperty;

import io.quarkus.runtime.configuration.MemorySize;
import io.quarkus.vertx.http.runtime.filters.Filters;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.problem.ErrorShapes;
import io.sandstream.problem.Problem;
import io.vertx.core.http.HttpMethod;

/**
 * Refuses an oversized body from its {@code Content-Length} alone, before it is read, in the shape
 * of its path ({@link ErrorShapes}: problem JSON, Azure's error body under {@code /pools/}): a
 * {@code POST /events} over {@code sandstream.ingress.max-request-bytes} (the same answer the
 * resource gives), any other request over the transport's {@code quarkus.http.limits.max-body-size}
 * (which Quarkus would answer with an empty 413). Bodies without a length are measured by the
 * resource or the transport.
 */
@ApplicationScoped
public class RequestSizeGuard {

    private static final int PRIORITY = 100;

    void register(@Observes Filters filters, SandstreamConfig config,
            @ConfigProperty(name = "quarkus.http.limits.max-body-size", defaultValue = "10240K") MemorySize transport) {
        long events = config.ingress().maxRequestBytes();
        long any = transport.asLongValue();
        filters.register(rc -> {
            String length = rc.request().getHeader("Content-Length");
            String path = rc.normalizedPath();
            long max = rc.request().method() == HttpMethod.POST && path.equals("/events") ? events : any;
            if (length != null && tooLong(length, max)) {
                ErrorShapes.end(rc.response().putHeader("Connection", "close"), ErrorShapes.render(path,
                        Problem.of(413, "too-large", "Payload too large", "A request may carry at most " + max + " bytes."),
                        Map.of()));
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
