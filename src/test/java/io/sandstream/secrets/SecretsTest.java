package io.sandstream.secrets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import com.azure.security.keyvault.secrets.SecretAsyncClient;

import io.sandstream.config.TestConfigs;

/**
 * {@link Secrets} over the real Key Vault SDK pipeline, against {@link RecordedKeyVault}: the
 * challenge flow, versions, disabled and expired versions, outages, rotation by refresh.
 */
class SecretsTest {

    final RecordedKeyVault vault = new RecordedKeyVault();
    Secrets secrets;

    Secrets secrets(String refresh) {
        KeyVaultClients clients = new KeyVaultClients() {
            @Override
            public SecretAsyncClient client(String vaultUrl) {
                return builder(vaultUrl).credential(vault.credential()).httpClient(vault).buildAsyncClient();
            }
        };
        secrets = new Secrets(TestConfigs.sandstream(Map.of("sandstream.security.key-vault.url", RecordedKeyVault.URL,
                "sandstream.security.key-vault.refresh", refresh)), clients);
        return secrets;
    }

    @AfterEach
    void stop() {
        if (secrets != null) {
            secrets.stop();
        }
    }

    /** Everything a watcher was told, in order. */
    static final class Seen {
        final List<Optional<String>> values = new CopyOnWriteArrayList<>();

        void accept(Optional<String> value) {
            values.add(value);
        }

        Optional<String> last() {
            return values.get(values.size() - 1);
        }
    }

    @Test
    void aSecretIsReadThroughTheChallengeWithTheVaultScope() {
        vault.set("ingress-keys", "k1,k2");
        Seen seen = new Seen();
        secrets("1h").watch("ingress-keys", seen::accept);
        assertEquals(List.of(Optional.of("k1,k2")), seen.values);
        assertTrue(RecordedKeyVault.challenges() >= 1, "the SDK asked without a token first and got the challenge");
        assertTrue(vault.scopes().contains("https://vault.azure.net/.default"), vault.scopes().toString());
        assertEquals(List.of("k1", "k2"), Secrets.items(seen.last().get()));
    }

    @Test
    void anAbsentSecretIsEmptySoConfigApplies() {
        Seen seen = new Seen();
        secrets("1h").watch("api-keys", seen::accept);
        assertEquals(List.of(Optional.empty()), seen.values);
    }

    @Test
    void aRefreshHandsOnChangesOnly() {
        vault.set("ingress-keys", "old");
        Seen seen = new Seen();
        secrets("1h").watch("ingress-keys", seen::accept);
        secrets.refresh();
        assertEquals(1, seen.values.size(), "unchanged: nobody is told");
        vault.set("ingress-keys", "new,old");
        secrets.refresh();
        assertEquals(Optional.of("new,old"), seen.last());
        vault.set("ingress-keys", "new");
        secrets.refresh();
        assertEquals(Optional.of("new"), seen.last());
        assertEquals(3, seen.values.size());
    }

    @Test
    void disabledExpiredAndNotYetValidVersionsAreNotUsed() {
        vault.set("s", "v1");
        Seen seen = new Seen();
        secrets("1h").watch("s", seen::accept);
        vault.disable("s");
        secrets.refresh();
        assertEquals(Optional.empty(), seen.last());
        vault.add("s", new RecordedKeyVault.Version(RecordedKeyVault.newVersion(), "v2", true, null, OffsetDateTime.now().minusDays(1)));
        secrets.refresh();
        assertEquals(Optional.empty(), seen.last(), "expired");
        vault.add("s", new RecordedKeyVault.Version(RecordedKeyVault.newVersion(), "v3", true, OffsetDateTime.now().plusDays(1), null));
        secrets.refresh();
        assertEquals(Optional.empty(), seen.last(), "not yet valid");
        vault.set("s", "v4");
        secrets.refresh();
        assertEquals(Optional.of("v4"), seen.last());
        vault.delete("s");
        secrets.refresh();
        assertEquals(Optional.empty(), seen.last(), "deleted");
    }

    @Test
    void anOutageKeepsTheLastValues() {
        vault.set("s", "v1");
        Seen seen = new Seen();
        secrets("1h").watch("s", seen::accept);
        vault.failWith("service-unavailable");
        vault.set("s", "v2");
        secrets.refresh();
        assertEquals(List.of(Optional.of("v1")), seen.values);
        vault.failWith(null);
        secrets.refresh();
        assertEquals(Optional.of("v2"), seen.last());
    }

    @Test
    void aVaultThatRefusesUsStopsTheStart() {
        vault.failWith("access-denied");
        Secrets refused = secrets("1h");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> refused.watch("s", value -> { }));
        assertTrue(e.getMessage().contains("cannot read secret 's'"), e.getMessage());
    }

    @Test
    void theRefreshRunsByItself() throws InterruptedException {
        vault.set("s", "v1");
        Seen seen = new Seen();
        secrets("100ms").watch("s", seen::accept);
        vault.set("s", "v2");
        for (int i = 0; i < 200 && !seen.last().equals(Optional.of("v2")); i++) {
            Thread.sleep(50);
        }
        assertEquals(Optional.of("v2"), seen.last());
    }

    @Test
    void withoutAVaultNothingIsAsked() {
        Secrets none = new Secrets(TestConfigs.sandstream(Map.of()), new KeyVaultClients());
        Seen seen = new Seen();
        none.watch("ingress-keys", seen::accept);
        assertEquals(List.of(Optional.empty()), seen.values);
        none.refresh();
        assertEquals(0, vault.reads());
    }
}
