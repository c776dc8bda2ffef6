package io.sandstream.sessions.aca;

import io.smallrye.mutiny.Uni;

/**
 * Where the bearer token of each data-plane call comes from: Entra ID ({@link EntraAccessTokens})
 * for Azure, or a fixed key for an endpoint that takes one (another sandstream, the tests).
 */
public interface AccessTokens {

    /** The token to send now; fails with {@code BackendUnavailableException} when none can be had. */
    Uni<String> token();

    /** The endpoint refused the last token (401): get a new one next time. */
    default void invalidate() {
    }

    static AccessTokens fixed(String token) {
        Uni<String> same = Uni.createFrom().item(token);
        return () -> same;
    }
}
