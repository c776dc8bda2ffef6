package io.sandstream.poolapi;

import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;

import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import org.jboss.resteasy.reactive.RestForm;
import org.jboss.resteasy.reactive.multipart.FileUpload;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionSpec;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Uni;

/**
 * The Azure Container Apps dynamic-sessions data plane (legacy contract) for every local pool, so
 * clients such as LangChain's {@code SessionsPythonREPLTool} can use a pool as their endpoint.
 */
@Path("/pools/{pool}")
@Produces(MediaType.APPLICATION_JSON)
public class PoolApiResource {

    private final PoolApiGuard guard;
    private final SandstreamConfig.Execution limits;

    public PoolApiResource(PoolApiGuard guard, SandstreamConfig config) {
        this.guard = guard;
        this.limits = config.execution();
    }

    @POST
    @Path("/code/execute")
    public Uni<Response> execute(@PathParam("pool") String pool, @QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") String identifier, @HeaderParam("Authorization") String authorization, byte[] body) {
        long received = System.nanoTime();
        PoolApiGuard.Call call = guard.legacy(authorization, pool, apiVersion, identifier);
        return run(call, body, received, result -> LegacyResponses.execution(identifier, result));
    }

    /**
     * The path Semantic Kernel .NET's {@code SessionsPythonPlugin} posted code to while it pinned
     * {@code 2024-02-02-preview}: the identifier sat in the body's {@code properties} (a query
     * identifier wins), the code in {@code pythonCode}, and it read the properties unwrapped.
     */
    @POST
    @Path("/python/execute")
    public Uni<Response> pythonExecute(@PathParam("pool") String pool, @QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") String queryIdentifier, @HeaderParam("Authorization") String authorization,
            byte[] body) {
        long received = System.nanoTime();
        String identifier = queryIdentifier != null ? queryIdentifier : LegacyExecuteRequest.bodyIdentifier(body);
        PoolApiGuard.Call call = guard.legacy(authorization, pool, apiVersion, identifier);
        return run(call, body, received, LegacyResponses::unwrappedExecution);
    }

    private Uni<Response> run(PoolApiGuard.Call call, byte[] body, long received, Function<ExecutionResult, Object> answer) {
        LegacyExecuteRequest request = LegacyExecuteRequest.parse(body, limits.maxCodeBytes(), limits.maxTimeoutSeconds());
        int timeout = request.timeoutSeconds() != null ? request.timeoutSeconds() : limits.defaultTimeoutSeconds();
        return guard.run(call, new ExecutionSpec(request.code(), timeout, List.of()))
                .map(result -> ExecutionHeaders.add(Response.ok(answer.apply(result)), UUID.randomUUID().toString(),
                        received, result).build())
                .onFailure().transform(PoolApiErrors::translate);
    }

    /** Blocking: the multipart part was spooled to a temporary file, read here on a worker thread. */
    @POST
    @Path("/files/upload")
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Blocking
    public Uni<LegacyResponses.FileList> upload(@PathParam("pool") String pool, @QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") String identifier, @HeaderParam("Authorization") String authorization,
            @RestForm("file") FileUpload file) {
        PoolApiGuard.Call call = guard.legacy(authorization, pool, apiVersion, identifier);
        return PoolApiGuard.store(call, PoolApiGuard.upload(file), stored -> LegacyResponses.files(List.of(stored)));
    }

    /** An upload not labelled multipart: taken when its body is one anyway ({@link LenientMultipart}), else 415. */
    @POST
    @Path("/files/upload")
    public Uni<LegacyResponses.FileList> uploadMislabelled(@PathParam("pool") String pool,
            @QueryParam("api-version") String apiVersion, @QueryParam("identifier") String identifier,
            @HeaderParam("Authorization") String authorization, @HeaderParam("Content-Type") String contentType,
            byte[] body) {
        PoolApiGuard.Call call = guard.legacy(authorization, pool, apiVersion, identifier);
        return PoolApiGuard.store(call, LenientMultipart.upload(contentType, body),
                stored -> LegacyResponses.files(List.of(stored)));
    }


    /** Served for both contracts: the api-version picks the shape ({@link PoolResourceApiResource} for the resource one). */
    @GET
    @Path("/files")
    public Uni<?> list(@PathParam("pool") String pool, @QueryParam("api-version") String apiVersion,
            @QueryParam("identifier") String identifier, @QueryParam("path") String path,
            @HeaderParam("Authorization") String authorization) {
        if (PoolApiGuard.isResourceVersion(apiVersion)) {
            return PoolResourceApiResource.list(guard.resource(authorization, pool, apiVersion, identifier), path);
        }
        PoolApiGuard.Call call = guard.legacy(authorization, pool, apiVersion, identifier);
        return call.pool().listFiles(call.session()).map(LegacyResponses::files).onFailure().transform(PoolApiErrors::translate);
    }

    /**
     * The name may be the full path, as LangChain sends it: {@code files/content//mnt/data/name},
     * which reaches us with the double slash merged.
     */
    @GET
    @Path("/files/content/{name: .+}")
    @Produces({ MediaType.APPLICATION_OCTET_STREAM, MediaType.APPLICATION_JSON })
    public Uni<Response> content(@PathParam("pool") String pool, @PathParam("name") String fileName,
            @QueryParam("api-version") String apiVersion, @QueryParam("identifier") String identifier,
            @HeaderParam("Authorization") String authorization) {
        return download(pool, fileName.startsWith("mnt/data/") ? "/" + fileName : fileName, apiVersion, identifier,
                authorization);
    }

    /** Semantic Kernel .NET's download path of the same era as {@code python/execute}: the name in {@code filename}. */
    @GET
    @Path("/python/downloadFile")
    @Produces({ MediaType.APPLICATION_OCTET_STREAM, MediaType.APPLICATION_JSON })
    public Uni<Response> pythonDownloadFile(@PathParam("pool") String pool, @QueryParam("filename") String fileName,
            @QueryParam("api-version") String apiVersion, @QueryParam("identifier") String identifier,
            @HeaderParam("Authorization") String authorization) {
        return download(pool, fileName, apiVersion, identifier, authorization);
    }

    private Uni<Response> download(String pool, String fileName, String apiVersion, String identifier,
            String authorization) {
        PoolApiGuard.Call call = guard.legacy(authorization, pool, apiVersion, identifier);
        String name = PoolApiGuard.fileName(fileName);
        return call.pool().downloadFile(call.session(), name)
                .map(bytes -> Response.ok(bytes, MediaType.APPLICATION_OCTET_STREAM_TYPE).build())
                .onFailure().transform(PoolApiErrors::translate);
    }
}
