package io.sandstream.poolapi;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.resteasy.reactive.multipart.FileUpload;

import io.sandstream.routing.Drain;
import io.sandstream.security.ApiKeys;
import io.sandstream.security.RateLimits;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionSpec;
import io.sandstream.sessions.SessionFile;
import io.sandstream.sessions.SessionKey;
import io.sandstream.sessions.SessionPool;
import io.sandstream.sessions.SessionPools;
import io.sandstream.tenancy.KeyScope;
import io.sandstream.validation.ExecuteRequestValidator;
import io.smallrye.mutiny.Uni;

/**
 * What every pool API call checks before it touches a session, in the order a client fixes them:
 * the key (and its rate limit), the pool, the API version, the identifier. Any valid API key may
 * use every pool, always as its tenant (API.md §3): the session a call names is the key's tenant's
 * session of that identifier. Each endpoint serves one contract: a legacy endpoint refuses
 * resource versions and vice versa.
 */
@ApplicationScoped
public class PoolApiGuard {

    static final Set<String> LEGACY_VERSIONS = Set.of("2024-02-02-preview", "2024-08-02-preview");
    /** The resource contract ({@code executions}, {@code files/{name}}, {@code session}, …). */
    static final Set<String> RESOURCE_VERSIONS = Set.of("2024-10-02-preview", "2025-02-02-preview", "2025-10-02-preview");
    /** The one resource version whose {@code POST executions} answers 202 even when synchronous. */
    static final String ACCEPTED_VERSION = "2024-10-02-preview";
    private static final String DATA_DIR = "/mnt/data/";

    private final ApiKeys keys;
    private final SessionPools pools;
    private final RateLimits limits;
    private final Drain drain;

    public PoolApiGuard(ApiKeys keys, SessionPools pools, RateLimits limits, Drain drain) {
        this.keys = keys;
        this.pools = pools;
        this.limits = limits;
        this.drain = drain;
    }

    /**
     * A checked call: the pool, the caller's scope, and the session it names (null for calls
     * about the whole pool).
     */
    public record Call(SessionPool pool, KeyScope scope, SessionKey session) {
    }

    /** A legacy call about one session, or a {@link PoolApiException}. */
    public Call legacy(String authorization, String pool, String apiVersion, String identifier) {
        return withIdentifier(pool(authorization, pool, apiVersion, LEGACY_VERSIONS), identifier);
    }

    /** A resource-contract call about one session, or a {@link PoolApiException}. */
    public Call resource(String authorization, String pool, String apiVersion, String identifier) {
        return withIdentifier(pool(authorization, pool, apiVersion, RESOURCE_VERSIONS), identifier);
    }

    /** A resource-contract call about the whole pool ({@code listSessions}, {@code metadata}). */
    public Call resource(String authorization, String pool, String apiVersion) {
        return pool(authorization, pool, apiVersion, RESOURCE_VERSIONS);
    }

    /**
     * Runs code in the call's session; while this instance drains (it is stopping, see
     * {@link Drain}) nothing new starts: a {@code 503} the client retries, by then on another
     * instance. Executions already running finish before the instance leaves.
     */
    public Uni<ExecutionResult> run(Call call, ExecutionSpec spec) {
        if (drain.active()) {
            throw new PoolApiException(503, "ServiceUnavailable", "This instance is shutting down; nothing was run. Retry"
                    + " shortly: another instance takes it.", Map.of("Retry-After",
                            Integer.toString(PoolApiErrors.POOL_FULL_RETRY_AFTER_SECONDS)));
        }
        return call.pool().run(Optional.of(call.session()), spec);
    }

    /** True for the versions of the resource contract, whose {@code GET files} answers another shape. */
    public static boolean isResourceVersion(String apiVersion) {
        return RESOURCE_VERSIONS.contains(apiVersion);
    }

    private Call pool(String authorization, String pool, String apiVersion, Set<String> versions) {
        KeyScope scope = keys.scopeOf(authorization).orElseThrow(PoolApiException::unauthorized);
        limits.takePoolApiCall(authorization).ifPresent(retryAfter -> {
            throw new PoolApiException(429, "TooManyRequests",
                    "This API key has made more requests than its rate limit or quota allows; retry later.",
                    Map.of("Retry-After", Long.toString(retryAfter)));
        });
        SessionPool sessions = pools.pool(pool)
                .orElseThrow(() -> new PoolApiException(404, "PoolNotFound", "No session pool named '" + pool + "'."));
        if (apiVersion == null || apiVersion.isBlank()) {
            throw PoolApiException.badRequest("MissingApiVersionParameter", "The api-version query parameter is required.");
        }
        if (!versions.contains(apiVersion)) {
            throw PoolApiException.badRequest("UnsupportedApiVersion", "api-version '" + apiVersion
                    + "' is not supported here; use one of " + String.join(", ", versions.stream().sorted().toList()) + ".");
        }
        return new Call(sessions, scope, null);
    }

    private static Call withIdentifier(Call call, String identifier) {
        if (identifier == null || !ExecuteRequestValidator.SESSION_ID.matcher(identifier).matches()) {
            throw PoolApiException.badRequest("InvalidIdentifier", "The identifier query parameter is required: 4 to 128"
                    + " characters, letters, digits and | - & ^ % $ # ( ) { } [ ] ; < >.");
        }
        return new Call(call.pool(), call.scope(), new SessionKey(call.scope().poolTenant(), identifier));
    }

    /** A multipart upload's checked file name and its bytes. */
    public record Upload(String name, byte[] content) {
    }

    /**
     * The part {@code file} of an upload, read from the temporary file it was spooled to (call on a
     * worker thread), or a {@link PoolApiException} when it is missing or badly named.
     */
    public static Upload upload(FileUpload file) {
        if (file == null) {
            throw PoolApiException.badRequest("MissingFile", "Send the file as the multipart part 'file'.");
        }
        String name = fileName(file.fileName());
        try {
            return new Upload(name, Files.readAllBytes(file.uploadedFile()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Stores an upload in the call's session and answers {@code answer} of the stored file, or the pool API's error. */
    static <T> Uni<T> store(Call call, Upload upload, Function<SessionFile, T> answer) {
        return call.pool().uploadFile(call.session(), upload.name(), upload.content()).map(answer)
                .onFailure().transform(PoolApiErrors::translate);
    }

    /** An upload read from a body by hand ({@link LenientMultipart}), its name checked as any other. */
    static Upload upload(String fileName, byte[] content) {
        return new Upload(fileName(fileName), content);
    }

    /**
     * The plain name of a file in {@code /mnt/data}: clients send either the bare name or the full
     * path; any other path (a directory, {@code ..}) is refused.
     */
    public static String fileName(String given) {
        String name = given != null && given.startsWith(DATA_DIR) ? given.substring(DATA_DIR.length()) : given;
        if (name == null || ExecuteRequestValidator.fileNameProblem(name) != null) {
            throw PoolApiException.badRequest("InvalidFileName",
                    "The file name must be a plain name in /mnt/data (no directories, no '..').");
        }
        return name;
    }
}
