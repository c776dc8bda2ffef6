package io.sandstream.poolapi;

import java.util.Set;

import jakarta.enterprise.context.ApplicationScoped;

import io.sandstream.results.ApiKeys;
import io.sandstream.sessions.SessionPool;
import io.sandstream.sessions.local.LocalPools;
import io.sandstream.validation.ExecuteRequestValidator;

/**
 * What every pool API call checks before it touches a session, in the order a client fixes them:
 * the key, the pool, the API version, the identifier. Any valid API key may use every pool.
 */
@ApplicationScoped
public class PoolApiGuard {

    static final Set<String> LEGACY_VERSIONS = Set.of("2024-02-02-preview", "2024-08-02-preview");
    private static final String DATA_DIR = "/mnt/data/";

    private final ApiKeys keys;
    private final LocalPools pools;

    public PoolApiGuard(ApiKeys keys, LocalPools pools) {
        this.keys = keys;
        this.pools = pools;
    }

    /** The pool a legacy call may use, or a {@link PoolApiException}. */
    public SessionPool legacy(String authorization, String pool, String apiVersion, String identifier) {
        if (keys.scopeOf(authorization).isEmpty()) {
            throw PoolApiException.unauthorized();
        }
        SessionPool sessions = pools.pool(pool)
                .orElseThrow(() -> new PoolApiException(404, "PoolNotFound", "No session pool named '" + pool + "'."));
        if (apiVersion == null || apiVersion.isBlank()) {
            throw PoolApiException.badRequest("MissingApiVersionParameter", "The api-version query parameter is required.");
        }
        if (!LEGACY_VERSIONS.contains(apiVersion)) {
            throw PoolApiException.badRequest("UnsupportedApiVersion", "api-version '" + apiVersion
                    + "' is not supported here; use one of " + String.join(", ", LEGACY_VERSIONS.stream().sorted().toList()) + ".");
        }
        if (identifier == null || !ExecuteRequestValidator.SESSION_ID.matcher(identifier).matches()) {
            throw PoolApiException.badRequest("InvalidIdentifier", "The identifier query parameter is required: 4 to 128"
                    + " characters, letters, digits and | - & ^ % $ # ( ) { } [ ] ; < >.");
        }
        return sessions;
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
