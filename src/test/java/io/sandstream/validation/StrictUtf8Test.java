package io.sandstream.validation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class StrictUtf8Test {

    private static byte[] bytes(String before, int[] raw, String after) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(before.getBytes(StandardCharsets.UTF_8));
        for (int b : raw) {
            out.write(b);
        }
        out.writeBytes(after.getBytes(StandardCharsets.UTF_8));
        return out.toByteArray();
    }

    @Test
    void validUtf8PassesWhateverItsLength() {
        assertEquals(-1, StrictUtf8.firstInvalid("café € 𝄞 plain".getBytes(StandardCharsets.UTF_8)));
        assertEquals(-1, StrictUtf8.firstInvalid("é".repeat(20_000).getBytes(StandardCharsets.UTF_8)));
        assertEquals(-1, StrictUtf8.firstInvalid(new byte[0]));
    }

    @Test
    void malformedFormsAreFoundWhereTheyStart() {
        assertEquals(2, StrictUtf8.firstInvalid(bytes("c-", new int[] {0xC0, 0xAF}, "")), "overlong '/'");
        assertEquals(4, StrictUtf8.firstInvalid(bytes("coll", new int[] {0xFF}, "")), "never a UTF-8 byte");
        assertEquals(0, StrictUtf8.firstInvalid(bytes("", new int[] {0xED, 0xA0, 0x80}, "")), "a surrogate");
        assertEquals(0, StrictUtf8.firstInvalid(bytes("", new int[] {0xF4, 0x90, 0x80, 0x80}, "")), "above U+10FFFF");
        assertEquals(1, StrictUtf8.firstInvalid(bytes("a", new int[] {0xE2, 0x82}, "")), "truncated at the end");
        assertEquals(1, StrictUtf8.firstInvalid(bytes("a", new int[] {0x80}, "b")), "a stray continuation byte");
        int far = 20_000;
        assertEquals(far, StrictUtf8.firstInvalid(bytes("x".repeat(far), new int[] {0xC1, 0xBF}, "")), "past the first buffer");
        assertThrows(CharacterCodingException.class, () -> StrictUtf8.decode(bytes("", new int[] {0xC0, 0xAF}, "")));
    }

    @Test
    void theFieldIsNamedByItsJsonPointer() {
        byte[] batch = bytes("[{\"id\":\"ok\"},{\"source\":\"/s\",\"id\":\"c-", new int[] {0xC0, 0xAF}, "\"}]");
        assertEquals("/1/id", StrictUtf8.inJson(batch).orElseThrow().pointer());
        byte[] jacksonRefuses = bytes("{\"data\":{\"code\":\"", new int[] {0xFF}, "\"}}");
        assertEquals("/data/code", StrictUtf8.inJson(jacksonRefuses).orElseThrow().pointer());
        assertEquals("/", StrictUtf8.inJson(bytes("", new int[] {0xFF}, "{}")).orElseThrow().pointer());
        assertTrue(StrictUtf8.inJson("{\"id\":\"é\"}".getBytes(StandardCharsets.UTF_8)).isEmpty());
    }
}
