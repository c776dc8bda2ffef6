package io.sandstream.ingress;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.OPTIONS;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;

import org.eclipse.microprofile.openapi.annotations.Operation;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.problem.ProblemException;
import io.sandstream.security.RateLimits;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.tenancy.Tenants;
import io.smallrye.mutiny.Uni;

/**
 * {@code /events}: the webhook Event Grid and CloudEvents clients deliver to. The body is taken as
 * raw bytes, whatever its content type, because the content type is what tells the modes apart.
 */
@Path("/events")
public class EventsResource {

    private final IngressAuthenticator auth;
    private final EventDecoder decoder;
    private final IngressService ingress;
    private final RateLimits limits;
    private final SandstreamConfig.Ingress config;
    private final SandstreamConfig.TenantFrom tenantMode;

    public EventsResource(IngressAuthenticator auth, EventDecoder decoder, IngressService ingress, RateLimits limits,
            SandstreamConfig config) {
        this.auth = auth;
        this.decoder = decoder;
        this.ingress = ingress;
        this.limits = limits;
        this.config = config.ingress();
        this.tenantMode = config.routing().tenant();
    }

    @POST
    @Consumes(MediaType.WILDCARD)
    @Operation(summary = "Deliver CloudEvents (structured, batch, binary) or Event Grid events")
    public Uni<Response> deliver(byte[] body, @Context HttpHeaders headers, @Context UriInfo uri) {
        return auth.authenticate(headers, uri).flatMap(scope -> accept(body, headers, uri, scope));
    }

    private Uni<Response> accept(byte[] body, HttpHeaders headers, UriInfo uri, KeyScope scope) {
        byte[] payload = body == null ? new byte[0] : body;
        if (payload.length > config.maxRequestBytes()) {
            throw ProblemException.tooLarge("A request may carry at most " + config.maxRequestBytes() + " bytes.");
        }
        DecodedRequest decoded = decoder.decode(headers.getHeaderString(HttpHeaders.CONTENT_TYPE),
                headers::getHeaderString, headers.getRequestHeaders().keySet(), payload);
        if (decoded instanceof DecodedRequest.ValidationHandshake handshake) {
            return Uni.createFrom().item(Response.ok(Map.of("validationResponse", handshake.validationCode()),
                    MediaType.APPLICATION_JSON).build());
        }
        DecodedRequest.Events events = (DecodedRequest.Events) decoded;
        limits.admitEvents(perTenant(events.events()));
        boolean publishApi = uri.getQueryParameters().containsKey("api-version");
        return ingress.ingest(events, scope, IngressService.Endpoint.EVENTS).map(result -> {
            if (publishApi) {
                // What Event Grid's topic endpoint answers, so its publisher SDKs can post here.
                return Response.ok().build();
            }
            Response.ResponseBuilder response = Response.accepted(result).type(MediaType.APPLICATION_JSON);
            if (!events.batch() && !result.accepted().isEmpty()) {
                response.header("Location", "/executions/" + result.accepted().get(0).executionId());
            }
            return response.build();
        });
    }

    /**
     * CloudEvents webhook abuse protection: grant delivery to the origin that asks, once it shows the
     * same credential a delivery needs (Event Grid sends the subscription's URL, key included, or
     * its bearer token).
     */
    @OPTIONS
    @Operation(summary = "CloudEvents webhook validation handshake")
    public Uni<Response> handshake(@Context HttpHeaders headers, @Context UriInfo uri) {
        return auth.authenticate(headers, uri).map(ok -> grant(headers));
    }

    private Response grant(HttpHeaders headers) {
        String origin = headers.getHeaderString("WebHook-Request-Origin");
        if (origin == null) {
            origin = headers.getHeaderString("Origin");
        }
        Response.ResponseBuilder response = Response.ok().header("Allow", "POST, OPTIONS");
        if (origin != null) {
            response.header("WebHook-Allowed-Origin", origin).header("WebHook-Allowed-Rate", config.allowedRate());
        }
        return response.build();
    }

    /** Events per tenant, as the ingress rate limit counts them: the tenant the lanes take turns between. */
    private Map<String, Long> perTenant(List<IncomingEvent> events) {
        Map<String, Long> counts = new HashMap<>();
        for (IncomingEvent event : events) {
            String tenant = event instanceof IncomingEvent.Parsed parsed
                    ? Tenants.of(tenantMode, parsed.event().getSource().toString(), parsed.event().getSubject())
                    : Tenants.of(tenantMode, ((IncomingEvent.Malformed) event).source(), ((IncomingEvent.Malformed) event).subject());
            counts.merge(tenant, 1L, Long::sum);
        }
        return counts;
    }
}
