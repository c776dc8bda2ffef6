package io.sandstream.poolapi;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;

import org.jboss.resteasy.reactive.RestForm;
import org.jboss.resteasy.reactive.multipart.FileUpload;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.Tenant;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionSpec;
import io.sandstream.sessions.SessionPool;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Uni;

/**
 * The Azure Container Apps dynamic-sessions data plane, resource contract ({@code 2024-10-02-preview},
 * {@code 2025-02-02-preview}, {@code 2025-10-02-preview}), for every local pool. {@code GET files}
 * is shared with the legacy contract and served by {@link PoolApiResource}.
 */
@Path("/pools/{pool}")
@Produces(MediaType.APPLICATION_JSON)
public class PoolResourceApiResource {

    private static final String DATA_DIR = "/mnt/data";
    /** Sessions in one {@code listSessions} page; the spec leaves the size to the service. */
    static final int LIST_PAGE_SIZE = 100;
    /** Oldest first, then by tenant and identifier: the same order on every instance and every page. */
    private static final Comparator<ResourceResponses.Session> LISTING_ORDER = Comparator
            .comparing((ResourceResponses.Session s) -> s.createdAt() == null ? null : Instant.parse(s.createdAt()),
                    Comparator.nullsLast(Comparator.naturalOrder()))
            .thenComparing(s -> s.tenant() == null ? "" : s.tenant()).thenComparing(ResourceResponses.Session::identifier);

    private final PoolApiGuard guard;
    private final SandstreamConfig config;
    private final AsyncExecutions executions;
    private final RuntimeMetadata metadata;
    private final PeerSessions peers;

    public PoolResourceApiResource(PoolApiGuard guard, SandstreamConfig config, AsyncExecutions executions,
            RuntimeMetadata metadata, PeerSessions peers) {
        this.peers = peers;
        this.guard = guard;
        this.config = config;
        this.executions = executions;
        this.metadata = metadata;
    }

    /**
     * Synchronous: runs the code and answers its final state (202 in {@code 2024-10-02-preview},
     * as that version did, else 200) with the {@link ExecutionHeaders}. Asynchronous: answers 202 {@code Running} at once with an
     * {@code Operation-Location} to poll.
     */
    @POST
    @Path("/executions")
    public Uni<Response> execute(@PathParam("pool") String pool, @QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") String identifier, @HeaderParam("Authorization") String authorization,
            @Context UriInfo uri, byte[] body) {
        long received = System.nanoTime();
        PoolApiGuard.Call call = guard.resource(authorization, pool, apiVersion, identifier);
        SandstreamConfig.Execution limits = config.execution();
        ExecutionRequest request = ExecutionRequest.parse(body, limits.maxCodeBytes(), limits.maxTimeoutSeconds());
        int timeout = request.timeoutSeconds() != null ? request.timeoutSeconds() : limits.defaultTimeoutSeconds();
        String id = UUID.randomUUID().toString();
        Uni<ExecutionResult> run = guard.run(call, new ExecutionSpec(request.code(), timeout, List.of()));
        if (!request.asynchronous()) {
            int status = PoolApiGuard.ACCEPTED_VERSION.equals(apiVersion) ? 202 : 200;
            return run.map(result -> ExecutionHeaders.add(Response.status(status)
                    .entity(ResourceResponses.execution(id, identifier, false, result)), id, received, result).build())
                    .onFailure().transform(PoolApiErrors::translate);
        }
        ResourceResponses.Execution running = ResourceResponses.running(id, identifier);
        executions.submitted(running, call.session());
        run.subscribe().with(result -> executions.finished(ResourceResponses.execution(id, identifier, true, result)),
                failure -> executions.finished(ResourceResponses.notStarted(id, identifier,
                        PoolApiErrors.translate(failure).getMessage())));
        String location = uri.getBaseUriBuilder().path("pools").path(pool).path("executions").path(id).build()
                + "?api-version=" + query(apiVersion) + "&identifier=" + query(identifier);
        return Uni.createFrom().item(Response.accepted(running).header("Operation-Location", location)
                .header("Operation-Id", id).build());
    }

    @GET
    @Path("/executions/{id}")
    public ResourceResponses.Execution execution(@PathParam("pool") String pool, @PathParam("id") String id,
            @QueryParam("api-version") String apiVersion, @QueryParam("identifier") String identifier,
            @HeaderParam("Authorization") String authorization) {
        PoolApiGuard.Call call = guard.resource(authorization, pool, apiVersion, identifier);
        return executions.get(id, call.session()).orElseThrow(
                () -> new PoolApiException(404, "ExecutionNotFound", "No execution '" + id + "' in this session."));
    }

    /** Blocking: the multipart part was spooled to a temporary file, read here on a worker thread. */
    @POST
    @Path("/files")
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Blocking
    public Uni<ResourceResponses.FileMetadata> upload(@PathParam("pool") String pool,
            @QueryParam("api-version") String apiVersion, @QueryParam("identifier") String identifier,
            @QueryParam("path") String path, @HeaderParam("Authorization") String authorization,
            @RestForm("file") FileUpload file) {
        PoolApiGuard.Call call = guard.resource(authorization, pool, apiVersion, identifier);
        checkPath(path);
        return PoolApiGuard.store(call, PoolApiGuard.upload(file), ResourceResponses::file);
    }

    /** An upload not labelled multipart: taken when its body is one anyway ({@link LenientMultipart}), else 415. */
    @POST
    @Path("/files")
    public Uni<ResourceResponses.FileMetadata> uploadMislabelled(@PathParam("pool") String pool,
            @QueryParam("api-version") String apiVersion, @QueryParam("identifier") String identifier,
            @QueryParam("path") String path, @HeaderParam("Authorization") String authorization,
            @HeaderParam("Content-Type") String contentType, byte[] body) {
        PoolApiGuard.Call call = guard.resource(authorization, pool, apiVersion, identifier);
        checkPath(path);
        return PoolApiGuard.store(call, LenientMultipart.upload(contentType, body), ResourceResponses::file);
    }


    /** {@code GET files} in the resource contract; {@code recursive} changes nothing, /mnt/data has no directories. */
    static Uni<ResourceResponses.FileList> list(PoolApiGuard.Call call, String path) {
        checkPath(path);
        return call.pool().listFiles(call.session()).map(ResourceResponses::files).onFailure().transform(PoolApiErrors::translate);
    }

    @GET
    @Path("/files/{name}")
    public Uni<ResourceResponses.FileMetadata> file(@PathParam("pool") String pool, @PathParam("name") String fileName,
            @QueryParam("api-version") String apiVersion, @QueryParam("identifier") String identifier,
            @QueryParam("path") String path, @HeaderParam("Authorization") String authorization) {
        PoolApiGuard.Call call = guard.resource(authorization, pool, apiVersion, identifier);
        String name = fileName(fileName, path);
        return call.pool().listFiles(call.session())
                .map(listing -> listing.files().stream().filter(f -> f.name().equals(name)).findFirst().map(ResourceResponses::file)
                        .orElseThrow(() -> new PoolApiException(404, "FileNotFound", "No such file in the session.")))
                .onFailure().transform(PoolApiErrors::translate);
    }

    @DELETE
    @Path("/files/{name}")
    public Uni<Response> deleteFile(@PathParam("pool") String pool, @PathParam("name") String fileName,
            @QueryParam("api-version") String apiVersion, @QueryParam("identifier") String identifier,
            @QueryParam("path") String path, @HeaderParam("Authorization") String authorization) {
        PoolApiGuard.Call call = guard.resource(authorization, pool, apiVersion, identifier);
        String name = fileName(fileName, path);
        return call.pool().deleteFile(call.session(), name).map(done -> Response.noContent().build())
                .onFailure().transform(PoolApiErrors::translate);
    }

    @GET
    @Path("/files/{name}/content")
    @Produces({ MediaType.APPLICATION_OCTET_STREAM, MediaType.APPLICATION_JSON })
    public Uni<Response> content(@PathParam("pool") String pool, @PathParam("name") String fileName,
            @QueryParam("api-version") String apiVersion, @QueryParam("identifier") String identifier,
            @QueryParam("path") String path, @HeaderParam("Authorization") String authorization) {
        PoolApiGuard.Call call = guard.resource(authorization, pool, apiVersion, identifier);
        String name = fileName(fileName, path);
        return call.pool().downloadFile(call.session(), name)
                .map(bytes -> Response.ok(bytes, MediaType.APPLICATION_OCTET_STREAM_TYPE).build())
                .onFailure().transform(PoolApiErrors::translate);
    }

    /** Read-only: looking at a session neither creates it nor resets its cooldown. */
    @GET
    @Path("/session")
    public ResourceResponses.Session session(@PathParam("pool") String pool, @QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") String identifier, @HeaderParam("Authorization") String authorization) {
        PoolApiGuard.Call call = guard.resource(authorization, pool, apiVersion, identifier);
        return call.pool().sessions().stream().filter(s -> s.key().equals(call.session())).findFirst()
                .map(ResourceResponses::session).orElseThrow(PoolResourceApiResource::noSession);
    }

    @DELETE
    @Path("/session")
    public Uni<Response> deleteSession(@PathParam("pool") String pool, @QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") String identifier, @HeaderParam("Authorization") String authorization) {
        PoolApiGuard.Call call = guard.resource(authorization, pool, apiVersion, identifier);
        return call.pool().deleteSession(call.session()).map(deleted -> {
            if (!deleted) {
                throw noSession();
            }
            return Response.noContent().build();
        }).onFailure().transform(PoolApiErrors::translate);
    }

    /**
     * One page of the caller's sessions (the operator's: every tenant's, each with its tenant), oldest
     * first so that {@code skip} pages through a stable order; {@code nextLink} names the next page.
     * With several instances the listing holds every instance's sessions ({@link PeerSessions}).
     */
    @GET
    @Path("/listSessions")
    public ResourceResponses.SessionList listSessions(@PathParam("pool") String pool,
            @QueryParam("api-version") String apiVersion, @QueryParam("skip") String skip,
            @HeaderParam("Authorization") String authorization, @HeaderParam(PeerSessions.HOP_HEADER) String hop,
            @Context UriInfo uri) {
        PoolApiGuard.Call call = guard.resource(authorization, pool, apiVersion);
        int from = skip(skip);
        Tenant tenant = call.scope().poolTenant();
        boolean operator = call.scope().operator();
        List<ResourceResponses.Session> visible = new ArrayList<>(call.pool().sessions().stream()
                .filter(s -> operator || s.key().tenant().equals(tenant))
                .map(operator ? ResourceResponses::sessionWithTenant : ResourceResponses::session).toList());
        String target = uri.getRequestUri().getRawPath() + "?" + uri.getRequestUri().getRawQuery();
        if (call.pool().backend().equals("local") && !peers.fromPeer(hop, target)) {
            visible.addAll(peers.list(pool, apiVersion, authorization));
        }
        visible.sort(LISTING_ORDER);
        List<ResourceResponses.Session> page = visible.stream().skip(from).limit(LIST_PAGE_SIZE).toList();
        int next = from + page.size();
        String nextLink = next < visible.size() ? uri.getBaseUriBuilder().path("pools").path(pool).path("listSessions")
                .build() + "?api-version=" + query(apiVersion) + "&skip=" + next : null;
        return new ResourceResponses.SessionList(page, nextLink);
    }

    private static int skip(String skip) {
        if (skip == null || skip.isEmpty()) {
            return 0;
        }
        try {
            int value = Integer.parseInt(skip);
            if (value >= 0) {
                return value;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw PoolApiException.badRequest("InvalidSkip", "The skip query parameter must be a whole number from 0.");
    }

    @GET
    @Path("/metadata")
    public Uni<RuntimeMetadata.Metadata> metadata(@PathParam("pool") String pool,
            @QueryParam("api-version") String apiVersion, @HeaderParam("Authorization") String authorization) {
        SessionPool sessions = guard.resource(authorization, pool, apiVersion).pool();
        return metadata.of(sessions).onFailure().transform(PoolApiErrors::translate);
    }

    /** The plain name of a file the client named with {@code name} in the directory {@code path}. */
    private static String fileName(String name, String path) {
        checkPath(path);
        return PoolApiGuard.fileName(name);
    }

    /** Files live in /mnt/data only; clients send no path, or that one. */
    private static void checkPath(String path) {
        if (path != null && !path.isEmpty() && !path.equals(DATA_DIR) && !path.equals(DATA_DIR + "/")) {
            throw PoolApiException.badRequest("InvalidPath", "Files live in " + DATA_DIR + "; send no path or that one.");
        }
    }

    private static PoolApiException noSession() {
        return new PoolApiException(404, "SessionNotFound", "No session with this identifier in the pool.");
    }

    private static String query(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }
}
