package io.sandstream.edge;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * HTTP/1.1 over a plain socket, for what a client library hides: a request that declares a body it
 * does not send, or that keeps writing one while the answer comes back.
 */
public final class RawHttp {

    /** A declared body far over anything the service would read unauthenticated (and under Quarkus's 10 MiB limit). */
    public static final int DECLARED = 8 * 1024 * 1024;
    /** How long a read may block: a server waiting for the body never answers within it. */
    private static final int READ_TIMEOUT_MILLIS = 5_000;
    private static final int CHUNK = 64 * 1024;

    /** What came back: status, headers (lower-case names), body, and whether the server then closed. */
    public record Answer(int status, Map<String, String> headers, String body, boolean closed) {
        public String header(String name) {
            return headers.get(name.toLowerCase());
        }
    }

    /** What a writer of the whole body managed before the server stopped it, and the answer read meanwhile. */
    public record Race(Answer answer, long bodyBytesWritten, IOException writeFailure) {
    }

    private RawHttp() {
    }

    public static String head(String method, String target, Map<String, String> headers) {
        StringBuilder head = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\nHost: localhost\r\n");
        headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
        return head.append("\r\n").toString();
    }

    /** Sends only {@code head} (which may promise a body) and reads the answer and the end of the connection. */
    public static Answer headOnly(URI base, String head) throws IOException {
        try (Socket socket = new Socket(base.getHost(), base.getPort())) {
            socket.setSoTimeout(READ_TIMEOUT_MILLIS);
            socket.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            return read(socket.getInputStream());
        }
    }

    /**
     * Writes {@code head} and then {@code body} on one thread while reading the answer on this one.
     * The send buffer is kept small, so the client can only get ahead of the server by what the
     * kernel buffers: a body the server does not read cannot all be written.
     */
    public static Race race(URI base, String head, byte[] body) throws Exception {
        try (Socket socket = new Socket()) {
            socket.setSendBufferSize(CHUNK);
            socket.connect(new InetSocketAddress(base.getHost(), base.getPort()));
            socket.setSoTimeout(READ_TIMEOUT_MILLIS);
            long[] written = { 0 };
            CompletableFuture<IOException> writer = CompletableFuture.supplyAsync(() -> {
                try {
                    OutputStream out = socket.getOutputStream();
                    out.write(head.getBytes(StandardCharsets.US_ASCII));
                    for (int at = 0; at < body.length; at += CHUNK) {
                        int length = Math.min(CHUNK, body.length - at);
                        out.write(body, at, length);
                        written[0] += length;
                    }
                    out.flush();
                    return null;
                } catch (IOException e) {
                    return e;
                }
            });
            Answer answer = read(socket.getInputStream());
            // A bound on a hang, not a measurement: a writer the server stopped fails at its next write.
            IOException failure = writer.get(60, TimeUnit.SECONDS);
            return new Race(answer, written[0], failure);
        }
    }

    /** Reads one response, then on to the end of the stream (a reset after the answer also ends it). */
    private static Answer read(InputStream in) throws IOException {
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        boolean closed;
        try {
            int n;
            while ((n = in.read(buffer)) >= 0) {
                received.write(buffer, 0, n);
            }
            closed = true;
        } catch (SocketTimeoutException e) {
            closed = false;
        } catch (IOException e) {
            // The server closed with the unread body in its buffer: the reset ends the stream.
            closed = true;
        }
        byte[] bytes = received.toByteArray();
        int end = indexOf(bytes, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        if (end < 0) {
            fail("no complete response " + (closed ? "before the connection closed" : "in time (was the body awaited?)")
                    + ": " + new String(bytes, StandardCharsets.ISO_8859_1));
        }
        String[] lines = new String(bytes, 0, end, StandardCharsets.ISO_8859_1).split("\r\n");
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, colon).trim().toLowerCase(), lines[i].substring(colon + 1).trim());
        }
        String body = new String(Arrays.copyOfRange(bytes, end + 4, bytes.length), StandardCharsets.UTF_8);
        String[] status = lines[0].split(" ");
        assertTrue(status.length >= 2 && status[0].startsWith("HTTP/1."), lines[0]);
        return new Answer(Integer.parseInt(status[1]), headers, body, closed);
    }

    private static int indexOf(byte[] bytes, byte[] part) {
        outer:
        for (int i = 0; i + part.length <= bytes.length; i++) {
            for (int j = 0; j < part.length; j++) {
                if (bytes[i + j] != part[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
