package io.sandstream.secrets;

import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;

import org.jboss.logging.Logger;

import com.azure.core.exception.HttpResponseException;
import com.azure.core.exception.ResourceNotFoundException;
import com.azure.security.keyvault.secrets.SecretAsyncClient;
import com.azure.security.keyvault.secrets.models.KeyVaultSecret;
import com.azure.security.keyvault.secrets.models.SecretProperties;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.config.SecurityConfig;

/**
 * The service's secrets from Azure Key Vault, when {@code sandstream.security.key-vault.url} is set.
 * Each watched secret is read at start and again every {@code refresh}; a changed value is handed to
 * its watchers, so a rotated key takes effect without a restart. A secret that is absent, disabled,
 * expired or not yet valid counts as not in the vault, and the watcher falls back to config/env.
 * A vault that cannot be read at start stops the start (the service never runs on guessed keys); one
 * that cannot be read at a refresh leaves the last values in force. Values are never logged.
 */
@ApplicationScoped
public class Secrets {

    private static final Logger LOG = Logger.getLogger(Secrets.class);

    private final SecurityConfig.KeyVault config;
    private final SecretAsyncClient client;
    private final Map<String, Watched> watched = new ConcurrentHashMap<>();
    private final ScheduledExecutorService refresher;

    /** One secret: its last value and who wants to hear of a change. */
    private static final class Watched {
        Optional<String> value;
        final List<Consumer<Optional<String>>> watchers = new ArrayList<>();

        Watched(Optional<String> value) {
            this.value = value;
        }
    }

    /** What one read found: a value, nothing (absent from the vault), or a failure (the vault did not say). */
    private record Read(Optional<String> value, RuntimeException failure) {
    }

    public Secrets(SandstreamConfig config, KeyVaultClients clients) {
        this.config = config.security().keyVault();
        this.client = this.config.url().filter(u -> !u.isBlank()).map(clients::client).orElse(null);
        if (client == null) {
            refresher = null;
            return;
        }
        refresher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "sandstream-secrets");
            thread.setDaemon(true);
            return thread;
        });
        long every = this.config.refresh().toMillis();
        refresher.scheduleWithFixedDelay(this::refreshQuietly, every, every, TimeUnit.MILLISECONDS);
        LOG.infof("secrets from Key Vault %s, read again every %s", this.config.url().get(), this.config.refresh());
    }

    public boolean enabled() {
        return client != null;
    }

    /**
     * Calls {@code watcher} now with the secret's value in the vault (empty without a vault, or when
     * the vault has no usable version of it), and again whenever a refresh finds it changed.
     */
    public void watch(String name, Consumer<Optional<String>> watcher) {
        if (client == null) {
            watcher.accept(Optional.empty());
            return;
        }
        Watched entry = watched.computeIfAbsent(name, n -> {
            Read read = read(n);
            if (read.failure() != null) {
                throw new IllegalStateException("cannot read secret '" + n + "' from Key Vault " + config.url().get()
                        + ": " + read.failure().getMessage(), read.failure());
            }
            LOG.infof("secret %s: %s", n, read.value().isPresent() ? "from Key Vault" : "not in Key Vault, from config/env");
            return new Watched(read.value());
        });
        synchronized (entry) {
            entry.watchers.add(watcher);
            watcher.accept(entry.value);
        }
    }

    /** Reads every watched secret again and tells the watchers of each that changed. */
    public void refresh() {
        watched.forEach((name, entry) -> {
            Read read = read(name);
            if (read.failure() != null) {
                LOG.warnf("secret %s could not be read from Key Vault (%s); the last value stays in force", name,
                        read.failure().getMessage());
                return;
            }
            synchronized (entry) {
                if (read.value().equals(entry.value)) {
                    return;
                }
                entry.value = read.value();
                LOG.infof("secret %s changed in Key Vault%s", name, read.value().isPresent() ? "" : ": gone, back to config/env");
                for (Consumer<Optional<String>> watcher : entry.watchers) {
                    try {
                        watcher.accept(entry.value);
                    } catch (RuntimeException e) {
                        LOG.errorf("secret %s: the new value could not be applied (%s)", name, e.getMessage());
                    }
                }
            }
        });
    }

    private void refreshQuietly() {
        try {
            refresh();
        } catch (RuntimeException e) {
            LOG.warnf("Key Vault refresh failed: %s", e.toString()); // the next one tries again
        }
    }

    private Read read(String name) {
        try {
            KeyVaultSecret secret = client.getSecret(name).block(config.timeout());
            return new Read(Optional.ofNullable(secret).filter(s -> usable(s.getProperties())).map(KeyVaultSecret::getValue), null);
        } catch (ResourceNotFoundException e) {
            return new Read(Optional.empty(), null);
        } catch (HttpResponseException e) {
            if (e.getResponse() != null && e.getResponse().getStatusCode() == 403 && disabled(e)) {
                return new Read(Optional.empty(), null);
            }
            return new Read(null, e);
        } catch (RuntimeException e) {
            return new Read(null, e);
        }
    }

    /** Enabled and inside its validity window: Key Vault hands out expired versions, we do not use them. */
    private static boolean usable(SecretProperties properties) {
        OffsetDateTime now = OffsetDateTime.now();
        return !Boolean.FALSE.equals(properties.isEnabled())
                && (properties.getExpiresOn() == null || properties.getExpiresOn().isAfter(now))
                && (properties.getNotBefore() == null || !properties.getNotBefore().isAfter(now));
    }

    /** Key Vault answers a disabled current version with 403 and the inner error code {@code SecretDisabled}. */
    private static boolean disabled(HttpResponseException e) {
        return String.valueOf(e.getMessage()).contains("SecretDisabled")
                || String.valueOf(e.getValue()).contains("SecretDisabled");
    }

    /** The items of a list secret: separated by commas or line breaks, trimmed, blanks dropped. */
    public static List<String> items(String value) {
        return Arrays.stream(value.split("[,\\r\\n]+")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }

    @PreDestroy
    void stop() {
        if (refresher != null) {
            refresher.shutdownNow();
        }
    }
}
