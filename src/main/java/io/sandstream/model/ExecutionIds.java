package io.sandstream.model;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.UUID;

/**
 * {@code executionId} is a pure function of ({@code source}, {@code id}) — the pair CloudEvents
 * defines as unique — so a redelivered event lands on the same execution. It is a name-based
 * UUID (version 5, SHA-1) in sandstream's own namespace; lengths are prefixed so that no two
 * different pairs can hash the same input.
 */
public final class ExecutionIds {

    private static final UUID NAMESPACE = UUID.fromString("5a6d3c1e-7f0b-4c52-9d1e-8b2a4e6f1c30");

    private ExecutionIds() {
    }

    public static String of(String source, String id) {
        byte[] s = source.getBytes(StandardCharsets.UTF_8);
        byte[] i = id.getBytes(StandardCharsets.UTF_8);
        ByteBuffer name = ByteBuffer.allocate(16 + 8 + s.length + i.length)
                .putLong(NAMESPACE.getMostSignificantBits()).putLong(NAMESPACE.getLeastSignificantBits())
                .putInt(s.length).put(s).putInt(i.length).put(i);
        byte[] hash = sha1(name.array());
        hash[6] = (byte) ((hash[6] & 0x0f) | 0x50); // version 5
        hash[8] = (byte) ((hash[8] & 0x3f) | 0x80); // IETF variant
        ByteBuffer bits = ByteBuffer.wrap(hash, 0, 16);
        return new UUID(bits.getLong(), bits.getLong()).toString();
    }

    private static byte[] sha1(byte[] input) {
        try {
            return MessageDigest.getInstance("SHA-1").digest(input);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-1", e);
        }
    }
}
