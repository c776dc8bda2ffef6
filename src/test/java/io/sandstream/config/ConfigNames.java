package io.sandstream.config;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

import io.quarkus.runtime.configuration.DurationConverter;
import io.smallrye.config.EnvConfigSource;
import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfigBuilder;

/**
 * sandstream's configuration as deployments set it: environment variables. Checks that the
 * variables a manifest or template sets name real properties of {@link SandstreamConfig} (derived
 * from the mapping itself, so a renamed property fails the check) and that their values bind.
 */
public final class ConfigNames {

    /**
     * Properties of {@code sandstream.aca-pools.<name>.*}, which the ACA backend (a branch of its own
     * while this was written) adds to the mapping. Used only while the mapping has no
     * {@code acaPools()}; once it has, the names come from the mapping like every other.
     */
    private static final List<String> PENDING_ACA_POOL_PROPERTIES = List.of("endpoint", "language", "api-version",
            "contract", "api-key", "managed-identity-client-id", "token-scope", "max-sessions", "cooldown", "timeout");

    private ConfigNames() {
    }

    /** The {@code SANDSTREAM_*} names among {@code variables} that no property maps to. */
    public static Set<String> unknown(Iterable<String> variables) {
        List<Pattern> known = new ArrayList<>();
        for (String template : propertyTemplates()) {
            known.add(Pattern.compile(toEnv(template).replace("\\*", "[A-Z0-9]+")));
        }
        Set<String> unknown = new TreeSet<>();
        for (String name : variables) {
            if (name.startsWith("SANDSTREAM_") && known.stream().noneMatch(p -> p.matcher(name).matches())) {
                unknown.add(name);
            }
        }
        return unknown;
    }

    /** Binds the mapping from these variables over application.properties (the prod profile); throws if a value is wrong. */
    public static SandstreamConfig bind(Map<String, String> variables) throws IOException {
        Properties defaults = new Properties();
        try (InputStream in = Files.newInputStream(Path.of("src/main/resources/application.properties"))) {
            defaults.load(in);
        }
        Map<String, String> prod = new HashMap<>();
        defaults.stringPropertyNames().stream().filter(k -> k.startsWith("sandstream."))
                .forEach(k -> prod.put(k, defaults.getProperty(k)));
        Map<String, String> env = new HashMap<>(variables);
        env.keySet().removeIf(k -> !k.startsWith("SANDSTREAM_") || k.startsWith("SANDSTREAM_ACA_POOLS_") && !hasAcaPools());
        return new SmallRyeConfigBuilder()
                .withMapping(SandstreamConfig.class)
                .withConverter(Duration.class, 100, new DurationConverter())
                .withSources(new PropertiesConfigSource(prod, "application.properties", 250))
                .withSources(new EnvConfigSource(env, 300))
                .build()
                .getConfigMapping(SandstreamConfig.class);
    }

    private static boolean hasAcaPools() {
        try {
            SandstreamConfig.class.getMethod("acaPools");
            return true;
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    /** Every property as a template, {@code *} standing for a map key: {@code sandstream.pools.*.max-sessions}. */
    static List<String> propertyTemplates() {
        List<String> templates = new ArrayList<>();
        collect(SandstreamConfig.class, "sandstream", templates);
        if (!hasAcaPools()) {
            PENDING_ACA_POOL_PROPERTIES.forEach(p -> templates.add("sandstream.aca-pools.*." + p));
        }
        return templates;
    }

    private static void collect(Class<?> group, String prefix, List<String> templates) {
        for (Method method : group.getMethods()) {
            if (Modifier.isStatic(method.getModifiers()) || method.getParameterCount() > 0
                    || method.getDeclaringClass() == Object.class) {
                continue;
            }
            String name = prefix + "." + kebab(method.getName());
            Type type = method.getGenericReturnType();
            Class<?> raw = raw(type);
            if (raw == Map.class) {
                Type value = ((ParameterizedType) type).getActualTypeArguments()[1];
                if (isGroup(raw(value))) {
                    collect(raw(value), name + ".*", templates);
                } else {
                    templates.add(name + ".*");
                }
            } else if (raw == List.class && isGroup(raw(((ParameterizedType) type).getActualTypeArguments()[0]))) {
                collect(raw(((ParameterizedType) type).getActualTypeArguments()[0]), name + "[*]", templates);
            } else if (isGroup(raw)) {
                collect(raw, name, templates);
            } else {
                templates.add(name);
            }
        }
    }

    private static boolean isGroup(Class<?> type) {
        return type.isInterface() && type.getName().startsWith("io.sandstream.");
    }

    private static Class<?> raw(Type type) {
        return type instanceof ParameterizedType p ? (Class<?>) p.getRawType() : (Class<?>) type;
    }

    private static String kebab(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
    }

    /** The environment variable form of a template, as a regular expression with {@code \*} for keys. */
    private static String toEnv(String template) {
        StringBuilder env = new StringBuilder();
        for (char c : template.toUpperCase(Locale.ROOT).toCharArray()) {
            env.append(c == '*' ? "\\*" : Character.isLetterOrDigit(c) ? String.valueOf(c) : "_");
        }
        return env.toString();
    }
}
