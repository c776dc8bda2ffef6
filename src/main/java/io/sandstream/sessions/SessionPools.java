package io.sandstream.sessions;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

import jakarta.enterprise.context.ApplicationScoped;

import io.quarkus.runtime.Startup;
import io.sandstream.config.SandstreamConfig;
import io.sandstream.routing.Language;
import io.sandstream.sessions.aca.AcaPools;
import io.sandstream.sessions.local.LocalPools;

/**
 * Every pool by name, whatever runs it: the local bubblewrap pools and the Azure Container Apps
 * ones. Routing, the dispatcher and the served pool API look pools up here, so moving a pool from
 * one backend to the other is a configuration change. Checked at start: a name used by both kinds,
 * or a routing rule naming no pool, stops the service instead of routing somewhere unexpected.
 */
@Startup
@ApplicationScoped
public class SessionPools {

    /** ACA pools first: configuring one for a language makes it that language's default pool. */
    private final Map<String, SessionPool> pools = new LinkedHashMap<>();

    public SessionPools(LocalPools local, AcaPools aca, SandstreamConfig config) {
        aca.all().forEach(pools::put);
        local.all().forEach((name, pool) -> {
            if (pools.putIfAbsent(name, pool) != null) {
                throw new IllegalStateException("pool name '" + name + "' is configured both as a local pool"
                        + " (sandstream.pools) and as an ACA pool (sandstream.aca-pools); pool names must be unique");
            }
        });
        for (SandstreamConfig.Rule rule : config.routing().rules()) {
            rule.pool().filter(name -> !pools.containsKey(name)).ifPresent(name -> {
                throw new IllegalStateException("routing rule names pool '" + name + "', which is not configured");
            });
        }
    }

    public Optional<SessionPool> pool(String name) {
        return Optional.ofNullable(pools.get(name));
    }

    /** The default pool of a language: the first ACA pool (by name) that runs it, else the first local one. */
    public Optional<SessionPool> forLanguage(Language language) {
        return pools.values().stream().filter(p -> p.language() == language).findFirst();
    }

    public Map<String, SessionPool> all() {
        return Collections.unmodifiableMap(pools);
    }
}
