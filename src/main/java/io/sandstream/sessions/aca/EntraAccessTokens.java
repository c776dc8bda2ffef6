package io.sandstream.sessions.aca;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;

import io.sandstream.sessions.BackendUnavailableException;
import io.smallrye.mutiny.Uni;

/**
 * Entra ID tokens for the data plane from an azure-identity {@link TokenCredential}
 * ({@code DefaultAzureCredential} in production: managed identity, workload identity, the Azure
 * CLI, …). A token is reused until {@code margin} before it expires (or the earlier refresh time
 * Entra gives), so calls do not each ask Entra; concurrent callers share one refresh. A refresh
 * that fails while the old token is still valid keeps the old one.
 */
public final class EntraAccessTokens implements AccessTokens {

    private final TokenCredential credential;
    private final TokenRequestContext context;
    private final Duration margin;
    private final Clock clock;
    private AccessToken current; // guarded by this
    private Uni<AccessToken> refreshing; // guarded by this

    public EntraAccessTokens(TokenCredential credential, String scope, Duration margin, Clock clock) {
        this.credential = credential;
        this.context = new TokenRequestContext().addScopes(scope);
        this.margin = margin;
        this.clock = clock;
    }

    @Override
    public synchronized Uni<String> token() {
        Instant now = clock.instant();
        if (current != null && now.isBefore(renewAt(current))) {
            return Uni.createFrom().item(current.getToken());
        }
        AccessToken old = current;
        if (refreshing == null) {
            refreshing = Uni.createFrom().completionStage(() -> credential.getToken(context).toFuture())
                    .onItem().invoke(this::refreshed)
                    .onFailure().invoke(failure -> refreshed(null))
                    .memoize().indefinitely();
        }
        return refreshing.map(AccessToken::getToken).onFailure().recoverWithUni(failure -> {
            if (old != null && clock.instant().isBefore(old.getExpiresAt().toInstant())) {
                return Uni.createFrom().item(old.getToken());
            }
            return Uni.createFrom().failure(new BackendUnavailableException(
                    "no access token for " + context.getScopes() + ": " + failure.getMessage(), failure));
        });
    }

    private synchronized void refreshed(AccessToken token) {
        if (token != null) {
            current = token;
        }
        refreshing = null;
    }

    @Override
    public synchronized void invalidate() {
        current = null;
    }

    private Instant renewAt(AccessToken token) {
        Instant renew = token.getExpiresAt().toInstant().minus(margin);
        if (token.getRefreshAt() != null && token.getRefreshAt().toInstant().isBefore(renew)) {
            return token.getRefreshAt().toInstant();
        }
        return renew;
    }
}
