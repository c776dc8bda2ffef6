package io.sandstream.secrets;

import java.time.Duration;

import jakarta.enterprise.context.ApplicationScoped;

import com.azure.core.http.policy.ExponentialBackoffOptions;
import com.azure.core.http.policy.RetryOptions;
import com.azure.identity.DefaultAzureCredentialBuilder;
import com.azure.security.keyvault.secrets.SecretAsyncClient;
import com.azure.security.keyvault.secrets.SecretClientBuilder;

/**
 * Builds the Key Vault client: the vault URL with {@code DefaultAzureCredential} (managed identity,
 * workload identity, environment, Azure CLI, ...). A bean so that tests can put their own HTTP
 * client under the real SDK pipeline.
 */
@ApplicationScoped
public class KeyVaultClients {

    public SecretAsyncClient client(String vaultUrl) {
        return builder(vaultUrl).credential(new DefaultAzureCredentialBuilder().build()).buildAsyncClient();
    }

    /** The builder every client starts from: a few short retries, since the refresh comes again anyway. */
    protected SecretClientBuilder builder(String vaultUrl) {
        return new SecretClientBuilder().vaultUrl(vaultUrl)
                .retryOptions(new RetryOptions(new ExponentialBackoffOptions().setMaxRetries(2)
                        .setBaseDelay(Duration.ofMillis(200)).setMaxDelay(Duration.ofSeconds(2))));
    }
}
