package io.sandstream.poolapi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/** The multipart bodies a mislabelled upload may carry, read by their first line. */
class LenientMultipartTest {

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void theBoundaryIsTheFirstLine() {
        assertEquals("0f3a", LenientMultipart.boundary(bytes("--0f3a\r\nContent-Disposition: form-data\r\n")));
        assertEquals("----1733400000000", LenientMultipart.boundary(bytes("------1733400000000\r\n")));
        assertNull(LenientMultipart.boundary(bytes("{\"code\":\"--x\"}")));
        assertNull(LenientMultipart.boundary(bytes("--\r\n")), "an empty boundary");
        assertNull(LenientMultipart.boundary(bytes("--a b \r\n")), "a boundary ending in a space");
        assertNull(LenientMultipart.boundary(bytes("--" + "x".repeat(71) + "\r\n")), "longer than RFC 2046 allows");
        assertNull(LenientMultipart.boundary(bytes("--abc")), "no line end");
    }

    @Test
    void thePartFileIsTakenWhereverItIs() {
        String body = "--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
                + "--B\r\nContent-Disposition: form-data; name=file; filename=data.csv; filename*=utf-8''d%C3%A9j%C3%A0.csv\r\n\r\n"
                + "a,b\r\n1,2\r\n--B--\r\n";
        PoolApiGuard.Upload upload = LenientMultipart.upload("application/json", bytes(body));
        assertEquals("déjà.csv", upload.name(), ".NET's filename* wins over its plain filename");
        assertArrayEquals(bytes("a,b\r\n1,2"), upload.content());

        PoolApiGuard.Upload empty = LenientMultipart.upload(null,
                bytes("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"/mnt/data/e.txt\"\r\n\r\n\r\n--B--\r\n"));
        assertEquals("e.txt", empty.name());
        assertEquals(0, empty.content().length);
    }

    @Test
    void whatIsNotAnUploadIsRefused() {
        assertEquals(415, assertThrows(PoolApiException.class,
                () -> LenientMultipart.upload("application/json", bytes("{\"a\":1}"))).status());
        assertEquals("MissingFile", assertThrows(PoolApiException.class, () -> LenientMultipart.upload("text/plain",
                bytes("--B\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--B--\r\n"))).code());
        assertEquals("InvalidRequestBody", assertThrows(PoolApiException.class, () -> LenientMultipart.upload("text/plain",
                bytes("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nno end"))).code());
        assertEquals("InvalidFileName", assertThrows(PoolApiException.class, () -> LenientMultipart.upload("text/plain",
                bytes("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../a.txt\"\r\n\r\nx\r\n--B--\r\n"))).code());
    }
}
