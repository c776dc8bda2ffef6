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

    /**
     * The priority a wire name read back from the journal stands for (a SQLite column, a Kafka
     * header): null stays null (a rejected event has none), a name no lane has is {@code normal}.
     */
    public static Priority ofWireName(String name) {
        return name == null ? null : parse(name).orElse(NORMAL);
    }

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
