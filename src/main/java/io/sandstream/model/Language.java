package io.sandstream.model;

import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * A language code is written in, by its normalized name: what a request's {@code language}, a
 * pool's {@code language} setting and a result's {@code language} say. Which languages exist is
 * configuration: those the configured pools run.
 *
 * @param name lower case: a letter, then letters, digits, {@code + # . -}; at most 32 characters
 */
public record Language(String name) {

    /** Before the constants below: their construction checks against it. */
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9+#.-]{0,31}");

    public static final Language PYTHON = new Language("python");
    public static final Language JAVASCRIPT = new Language("javascript");

    public Language {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("'" + name + "' is not a language name (a letter, then letters, digits,"
                    + " '+', '#', '.' or '-'; at most 32 characters)");
        }
    }

    /** The language a name in any letter case stands for; how the settings ({@code sandstream.pools.*.language}) bind. */
    public static Language of(String value) {
        return new Language(value.toLowerCase(Locale.ROOT));
    }

    /** Parses a request's {@code language} in any letter case; empty when it is no language name. */
    public static Optional<Language> parse(String value) {
        if (value == null) {
            return Optional.empty();
        }
        String name = value.toLowerCase(Locale.ROOT);
        return NAME.matcher(name).matches() ? Optional.of(new Language(name)) : Optional.empty();
    }

    public String wireName() {
        return name;
    }

    @Override
    public String toString() {
        return name;
    }
}
