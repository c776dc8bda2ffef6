package io.sandstream.secrets;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Alternative;

import com.azure.security.keyvault.secrets.SecretAsyncClient;

/**
 * The Key Vault client with {@link RecordedKeyVault} as its HTTP client and credential, everything
 * else the SDK's own; enabled by the test profiles that configure a vault URL.
 */
@Alternative
@ApplicationScoped
public class RecordedKeyVaultClients extends KeyVaultClients {

    public static final RecordedKeyVault VAULT = new RecordedKeyVault();

    @Override
    public SecretAsyncClient client(String vaultUrl) {
        return builder(vaultUrl).credential(VAULT.credential()).httpClient(VAULT).buildAsyncClient();
    }
}
