package io.sandstream.sessions;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.Language;

/**
 * Every pool by name, whatever runs it: the local bubblewrap pools and the Azure Container Apps
 * ones. Routing, the dispatcher and the served pool API look pools up here, so moving a pool from
 * one backend to the other is a configuration change. Checked at start: a name used by both kinds,
 * or a routing rule naming no pool, stops the service instead of routing somewhere unexpected.
 * The wiring builds it from both backends at start.
 */
public class SessionPools {

    /** ACA pools first: configuring one for a language makes it that language's default pool. */
    private final Map<String, SessionPool> pools = new LinkedHashMap<>();
    /** The dispatcher asks for every start: one read-only view, not one per call. */
    private final Map<String, SessionPool> view = Collections.unmodifiableMap(pools);

    public SessionPools(Map<String, ? extends SessionPool> aca, Map<String, ? extends SessionPool> local,
            List<SandstreamConfig.Rule> rules) {
        check(aca.keySet(), local.keySet(), rules);
        pools.putAll(aca);
        pools.putAll(local);
    }

    /** Fails when a name is both a local and an ACA pool, or a routing rule names a pool that is neither. */
    static void check(Set<String> aca, Set<String> local, List<SandstreamConfig.Rule> rules) {
        for (String name : aca) {
            if (local.contains(name)) {
                throw new IllegalStateException("pool name '" + name + "' is configured both as a local pool"
                        + " (sandstream.pools) and as an ACA pool (sandstream.aca-pools); pool names must be unique");
            }
        }
        for (SandstreamConfig.Rule rule : rules) {
            rule.pool().filter(name -> !aca.contains(name) && !local.contains(name)).ifPresent(name -> {
                throw new IllegalStateException("routing rule names pool '" + name + "', which is not configured");
            });
        }
    }

    public Optional<SessionPool> pool(String name) {
        return Optional.ofNullable(pools.get(name));
    }

    /** The default pool of a language: the first ACA pool (by name) that runs it, else the first local one. */
    public Optional<SessionPool> forLanguage(Language language) {
        return pools.values().stream().filter(p -> p.language().equals(language)).findFirst();
    }

    public Map<String, SessionPool> all() {
        return view;
    }
}
