package io.sandstream.sessions.aca;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.Encoded;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import org.jboss.resteasy.reactive.client.api.ClientMultipartForm;

import com.fasterxml.jackson.databind.JsonNode;

import io.smallrye.mutiny.Uni;

/**
 * The dynamic-sessions data plane of one pool, both contracts, as a Quarkus REST client built per
 * pool (the endpoint is configuration, not a fixed client key). Every call answers the raw
 * {@link Response}: the default exception mapper is off, because {@link AcaSessionPool} tells a
 * full pool from a missing file from an outage by status and Azure error code, not by exception.
 * Identifiers and file names are passed percent-encoded ({@link Encoded}): they may hold
 * {@code % { } # &} and the like, which must reach the server as the characters themselves.
 */
@Produces(MediaType.APPLICATION_JSON)
public interface DynamicSessionsClient {

    // ---- legacy contract (2024-02-02-preview, 2024-08-02-preview) -----------------------------------

    @POST
    @Path("code/execute")
    @Consumes(MediaType.APPLICATION_JSON)
    Uni<Response> executeLegacy(@QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") @Encoded String identifier, @HeaderParam("Authorization") String authorization,
            JsonNode body);

    @POST
    @Path("files/upload")
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    Uni<Response> uploadLegacy(@QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") @Encoded String identifier, @HeaderParam("Authorization") String authorization,
            ClientMultipartForm file);

    @GET
    @Path("files/content/{name}")
    @Produces(MediaType.WILDCARD)
    Uni<Response> downloadLegacy(@PathParam("name") @Encoded String name, @QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") @Encoded String identifier, @HeaderParam("Authorization") String authorization);

    // ---- both contracts --------------------------------------------------------------------------

    /** The list's shape depends on the contract. */
    @GET
    @Path("files")
    Uni<Response> listFiles(@QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") @Encoded String identifier, @HeaderParam("Authorization") String authorization);

    // ---- resource contract (2024-10-02-preview and later) -------------------------------------------

    @POST
    @Path("executions")
    @Consumes(MediaType.APPLICATION_JSON)
    Uni<Response> execute(@QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") @Encoded String identifier, @HeaderParam("Authorization") String authorization,
            JsonNode body);

    @POST
    @Path("files")
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    Uni<Response> upload(@QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") @Encoded String identifier, @HeaderParam("Authorization") String authorization,
            ClientMultipartForm file);

    @GET
    @Path("files/{name}/content")
    @Produces(MediaType.WILDCARD)
    Uni<Response> download(@PathParam("name") @Encoded String name, @QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") @Encoded String identifier, @HeaderParam("Authorization") String authorization);

    @DELETE
    @Path("files/{name}")
    Uni<Response> deleteFile(@PathParam("name") @Encoded String name, @QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") @Encoded String identifier, @HeaderParam("Authorization") String authorization);

    @DELETE
    @Path("session")
    Uni<Response> deleteSession(@QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") @Encoded String identifier, @HeaderParam("Authorization") String authorization);
}
