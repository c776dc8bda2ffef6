package io.sandstream.results.blob;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

import org.jboss.logging.Logger;

import com.azure.core.credential.AzureNamedKeyCredential;
import com.azure.storage.blob.BlobServiceClientBuilder;

import io.sandstream.secrets.Secrets;

/**
 * The storage connection string the blob store uses. With an account key, the key is an
 * {@link AzureNamedKeyCredential} the client signs every request with, so a rotated key (a new
 * connection string for the same account and endpoint, from Key Vault) is put in place without a
 * new client. Any other change (another account or endpoint, a SAS) is applied at the next start.
 */
public final class StorageConnection {

    private static final Logger LOG = Logger.getLogger(StorageConnection.class);
    private static final String ACCOUNT_KEY = "accountkey";

    private final String connectionString;
    private final Map<String, String> target;
    private final AzureNamedKeyCredential key;

    private StorageConnection(String connectionString) {
        this.connectionString = connectionString;
        Map<String, String> settings = settings(connectionString);
        String accountKey = settings.remove(ACCOUNT_KEY);
        this.target = settings;
        String account = settings.get("accountname");
        this.key = account != null && accountKey != null ? new AzureNamedKeyCredential(account, accountKey) : null;
    }

    public static StorageConnection parse(String connectionString) {
        return new StorageConnection(connectionString);
    }

    /**
     * The connection from Key Vault's secret {@code secretName} when it holds one, else
     * {@code configured}; kept current as the secret changes. Null when neither has one.
     */
    public static StorageConnection watched(Secrets secrets, String secretName, Optional<String> configured) {
        AtomicReference<StorageConnection> connection = new AtomicReference<>();
        secrets.watch(secretName, fromVault -> fromVault.or(() -> configured).ifPresent(value -> {
            if (connection.get() == null) {
                connection.set(parse(value));
            } else {
                connection.get().rotate(value);
            }
        }));
        return connection.get();
    }

    /** Sets the endpoint and credential of {@code builder} from this connection. */
    void applyTo(BlobServiceClientBuilder builder) {
        builder.connectionString(connectionString);
        if (key != null) {
            builder.credential(key); // after the connection string: this one is updatable
        }
    }

    /** Puts a new key in place when {@code newConnectionString} differs only by it; true when it did. */
    public boolean rotate(String newConnectionString) {
        Map<String, String> settings = settings(newConnectionString);
        String newKey = settings.remove(ACCOUNT_KEY);
        if (key != null && newKey != null && settings.equals(target)) {
            key.update(target.get("accountname"), newKey);
            LOG.info("storage account key rotated");
            return true;
        }
        LOG.warn("the storage connection string changed in more than its account key; restart to use it");
        return false;
    }

    /** {@code Name=value;...} with names folded to lower case; values may contain '='. */
    private static Map<String, String> settings(String connectionString) {
        Map<String, String> settings = new LinkedHashMap<>();
        for (String part : connectionString.split(";")) {
            int eq = part.indexOf('=');
            if (eq > 0) {
                settings.put(part.substring(0, eq).trim().toLowerCase(Locale.ROOT), part.substring(eq + 1).trim());
            }
        }
        return settings;
    }
}
