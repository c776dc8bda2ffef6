package io.sandstream.model;

import java.util.Locale;
import java.util.Optional;

/** Languages a session can run. */
public enum Language {
    PYTHON, JAVASCRIPT;

    /** Parses {@code python|javascript} in any letter case; empty for anything else. */
    public static Optional<Language> parse(String value) {
        if (value == null) {
            return Optional.empty();
        }
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "python" -> Optional.of(PYTHON);
            case "javascript" -> Optional.of(JAVASCRIPT);
            default -> Optional.empty();
        };
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
