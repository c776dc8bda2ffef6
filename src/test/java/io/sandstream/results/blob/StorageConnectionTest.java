package io.sandstream.results.blob;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Base64;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import com.azure.storage.blob.BlobServiceAsyncClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.BlobStorageException;
import io.sandstream.results.Azurite;

/**
 * A storage account key rotated in place (what a new Key Vault version of the connection string
 * does), against a real Azurite that checks every request's shared-key signature.
 */
class StorageConnectionTest {

    static Azurite azurite;

    @BeforeAll
    static void start() {
        azurite = Azurite.startFresh();
    }

    @AfterAll
    static void stop() {
        azurite.stop();
    }

    static String withKey(String key) {
        return azurite.connectionString().replace(Azurite.ACCOUNT_KEY, key);
    }

    static BlobServiceAsyncClient client(StorageConnection connection) {
        BlobServiceClientBuilder builder = new BlobServiceClientBuilder();
        connection.applyTo(builder);
        return builder.buildAsyncClient();
    }

    static int statusOfListing(BlobServiceAsyncClient client) {
        try {
            client.getProperties().block(Duration.ofSeconds(10));
            return 200;
        } catch (BlobStorageException e) {
            return e.getStatusCode();
        }
    }

    @Test
    void aRotatedKeyIsUsedByTheSameClient() {
        String wrong = Base64.getEncoder().encodeToString(new byte[64]);
        StorageConnection connection = StorageConnection.parse(withKey(wrong));
        BlobServiceAsyncClient client = client(connection);
        assertEquals(403, statusOfListing(client), "Azurite refuses a signature by another key");

        assertTrue(connection.rotate(withKey(Azurite.ACCOUNT_KEY)));
        assertEquals(200, statusOfListing(client), "the new key works without a new client");

        assertTrue(connection.rotate(withKey(wrong)));
        assertEquals(403, statusOfListing(client), "and the old one no longer does");
    }

    @Test
    void aChangeBeyondTheKeyWaitsForARestart() {
        StorageConnection connection = StorageConnection.parse(azurite.connectionString());
        BlobServiceAsyncClient client = client(connection);
        assertFalse(connection.rotate(azurite.connectionString().replace("devstoreaccount1;", "otheraccount;")));
        assertFalse(connection.rotate("BlobEndpoint=https://other.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&sig=x"));
        assertEquals(200, statusOfListing(client), "the connection in use is unchanged");
        assertThrows(IllegalArgumentException.class, () -> client(StorageConnection.parse("not a connection string")));
    }
}
