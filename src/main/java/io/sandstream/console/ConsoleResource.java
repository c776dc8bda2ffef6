package io.sandstream.console;

import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import io.sandstream.security.ApiKeys;

/**
 * The web console's one endpoint of its own: the dashboard's numbers, polled by the page. Any valid
 * API key may read them; they are aggregates over every pool and lane, no subject's content.
 * The page itself ({@code /}, {@code /console/*.js|css}) is static and holds nothing secret.
 */
@Path("/console/api")
@Produces(MediaType.APPLICATION_JSON)
public class ConsoleResource {

    private final ApiKeys keys;
    private final OverviewReader reader;

    public ConsoleResource(ApiKeys keys, OverviewReader reader) {
        this.keys = keys;
        this.reader = reader;
    }

    @GET
    @Path("/overview")
    public Overview overview(@HeaderParam("Authorization") String authorization) {
        keys.require(authorization);
        return reader.read();
    }
}
