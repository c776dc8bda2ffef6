package io.sandstream.routing;

import java.util.List;
import java.util.Optional;
import java.util.function.Function;

import jakarta.enterprise.context.ApplicationScoped;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.sessions.SessionPool;
import io.sandstream.sessions.SessionPools;

/** The configured routing rules: the first rule matching an event's type and subject decides. */
@ApplicationScoped
public class RoutingRules {

    private final List<SandstreamConfig.Rule> rules;

    public RoutingRules(SandstreamConfig config) {
        this.rules = List.copyOf(config.routing().rules());
    }

    /** The priority of the first matching rule that sets one. */
    public Optional<Priority> priority(String type, String subject) {
        return first(type, subject, SandstreamConfig.Rule::priority);
    }

    /** The pool of the first matching rule that names one. */
    public Optional<String> pool(String type, String subject) {
        return first(type, subject, SandstreamConfig.Rule::pool);
    }

    /**
     * The pool that runs work of this type, subject and language: the pool a rule names when it
     * runs the language, else the language's default pool. The dispatcher's choice, which the MCP
     * server's file tools repeat to reach the session a run used.
     */
    public Optional<SessionPool> poolFor(String type, String subject, Language language, SessionPools pools) {
        return pool(type, subject).flatMap(pools::pool).filter(p -> p.language().equals(language))
                .or(() -> pools.forLanguage(language));
    }

    private <T> Optional<T> first(String type, String subject, Function<SandstreamConfig.Rule, Optional<T>> value) {
        for (SandstreamConfig.Rule rule : rules) {
            if (matches(rule, type, subject)) {
                Optional<T> v = value.apply(rule);
                if (v.isPresent()) {
                    return v;
                }
            }
        }
        return Optional.empty();
    }

    static boolean matches(SandstreamConfig.Rule rule, String type, String subject) {
        String t = type == null ? "" : type;
        String s = subject == null ? "" : subject;
        return rule.type().map(t::equals).orElse(true)
                && rule.typePrefix().map(t::startsWith).orElse(true)
                && rule.subject().map(s::equals).orElse(true)
                && rule.subjectPrefix().map(s::startsWith).orElse(true)
                && rule.subjectSuffix().map(s::endsWith).orElse(true);
    }
}
