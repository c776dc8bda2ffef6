package io.sandstream.kafka;

import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Set;

import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;

import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerTokenCallback;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;
import com.azure.identity.DefaultAzureCredentialBuilder;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * SASL OAUTHBEARER tokens for Azure Event Hubs' Kafka endpoint, from {@code DefaultAzureCredential}
 * (managed or workload identity in Azure, a developer login elsewhere), for the scope
 * {@code https://<namespace>.servicebus.windows.net/.default}. The Kafka client calls it again
 * before a token expires. Registered for reflection: the Kafka client creates it by class name.
 */
@RegisterForReflection
public class EventHubsTokens implements AuthenticateCallbackHandler {

    private TokenCredential credential;
    private TokenRequestContext request;

    /** The Kafka client instantiates it by class name. */
    public EventHubsTokens() {
    }

    EventHubsTokens(TokenCredential credential) {
        this.credential = credential;
    }

    @Override
    public void configure(Map<String, ?> configs, String saslMechanism, List<AppConfigurationEntry> jaasConfigEntries) {
        Object servers = configs.get(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG);
        String first = (servers instanceof List<?> list ? String.valueOf(list.get(0)) : String.valueOf(servers)).split(",")[0].trim();
        String host = URI.create("kafka://" + first).getHost();
        request = new TokenRequestContext().addScopes("https://" + host + "/.default");
        if (credential == null) {
            credential = new DefaultAzureCredentialBuilder().build();
        }
    }

    @Override
    public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        for (Callback callback : callbacks) {
            if (!(callback instanceof OAuthBearerTokenCallback tokenCallback)) {
                throw new UnsupportedCallbackException(callback);
            }
            AccessToken token = credential.getTokenSync(request);
            tokenCallback.token(bearer(token, request.getScopes().get(0)));
        }
    }

    static OAuthBearerToken bearer(AccessToken token, String scope) {
        long now = System.currentTimeMillis();
        return new OAuthBearerToken() {
            @Override
            public String value() {
                return token.getToken();
            }

            @Override
            public Set<String> scope() {
                return Set.of(scope);
            }

            @Override
            public long lifetimeMs() {
                return token.getExpiresAt().toInstant().toEpochMilli();
            }

            @Override
            public String principalName() {
                return "sandstream";
            }

            @Override
            public Long startTimeMs() {
                return now;
            }
        };
    }

    @Override
    public void close() {
        // the credential holds nothing to release
    }
}
