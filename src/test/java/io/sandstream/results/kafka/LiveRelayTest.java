package io.sandstream.results.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** Chunks longer than a live record are cut into pieces that are each whole UTF-8 text. */
class LiveRelayTest {

    @Test
    void aLongChunkIsCutBetweenCharacters() {
        byte[] chunk = "ab€cd€€e".getBytes(StandardCharsets.UTF_8); // € is three bytes
        ByteArrayOutputStream joined = new ByteArrayOutputStream();
        StringBuilder pieces = new StringBuilder();
        for (int from = 0; from < chunk.length;) {
            int to = LiveRelay.cut(chunk, from, 4);
            String piece = new String(chunk, from, to - from, StandardCharsets.UTF_8);
            assertEquals(piece, new String(piece.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8));
            assertEquals(-1, piece.indexOf('\uFFFD'), "no character split: " + piece);
            pieces.append('[').append(piece).append(']');
            joined.write(chunk, from, to - from);
            from = to;
        }
        assertEquals("[ab][€c][d€][€e]", pieces.toString());
        assertEquals("ab€cd€€e", joined.toString(StandardCharsets.UTF_8));
    }

    @Test
    void bytesThatAreNotUtf8AreCutAtTheLimit() {
        byte[] chunk = {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80};
        assertEquals(4, LiveRelay.cut(chunk, 0, 4));
        assertEquals(6, LiveRelay.cut(chunk, 4, 4));
    }
}
