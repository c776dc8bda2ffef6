package io.sandstream.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Base64;

/** Reads a base64 PNG as a client would: the signature, then the IHDR chunk's width and height. */
public final class Png {

    private static final byte[] SIGNATURE = { (byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

    private Png() {
    }

    /** {width, height}; fails unless the data is a PNG whose first chunk is IHDR. */
    public static int[] size(String base64) {
        byte[] png = Base64.getDecoder().decode(base64);
        assertArrayEquals(SIGNATURE, Arrays.copyOf(png, 8), "PNG signature");
        ByteBuffer header = ByteBuffer.wrap(png, 8, 16);
        assertEquals(13, header.getInt(), "IHDR length");
        byte[] type = new byte[4];
        header.get(type);
        assertEquals("IHDR", new String(type, java.nio.charset.StandardCharsets.US_ASCII));
        return new int[] { header.getInt(), header.getInt() };
    }

    public static void assertPng(String base64, int width, int height) {
        int[] size = size(base64);
        assertEquals(width, size[0], "PNG width");
        assertEquals(height, size[1], "PNG height");
    }
}
