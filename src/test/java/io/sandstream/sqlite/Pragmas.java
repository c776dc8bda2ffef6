package io.sandstream.sqlite;

/** Reads a PRAGMA on a writer's own connection, where its settings live. */
public final class Pragmas {

    private Pragmas() {
    }

    public static long of(GroupCommitWriter writer, String pragma) throws Exception {
        return writer.submit(transaction -> {
            try (var s = transaction.connection().createStatement(); var rs = s.executeQuery("PRAGMA " + pragma)) {
                return rs.getLong(1);
            }
        }).get();
    }
}
