package io.sandstream.model;

import java.util.Locale;
import java.util.Optional;

/** The three scheduling lanes, highest first. */
public enum Priority {
    HIGH, NORMAL, LOW;

    /** Parses {@code high|normal|low} in any letter case; empty for anything else. */
    public static Optional<Priority> parse(String value) {
        if (value == null) {
            return Optional.empty();
        }
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "high" -> Optional.of(HIGH);
            case "normal" -> Optional.of(NORMAL);
            case "low" -> Optional.of(LOW);
            default -> Optional.empty();
        };
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
