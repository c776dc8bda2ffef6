package io.sandstream.edge;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** HTTP over a plain socket, for requests no HTTP client will send. */
final class RawSocket {

    /** Generous: a safety net for a server that never answers, not a measurement. */
    static final int READ_TIMEOUT_MS = 60_000;

    record Response(int status, Map<String, String> headers, byte[] body) {
        JsonNode json() throws IOException {
            return new ObjectMapper().readTree(body);
        }

        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    private RawSocket() {
    }

    static Socket connect(URL base) throws IOException {
        Socket socket = new Socket(base.getHost(), base.getPort());
        socket.setSoTimeout(READ_TIMEOUT_MS);
        return socket;
    }

    /**
     * Sends {@code request} from another thread (the server may answer and stop reading before it
     * is all sent) and reads the answer until the server closes the connection.
     */
    static Response exchange(URL base, byte[] request) throws Exception {
        try (Socket socket = connect(base)) {
            Thread writer = new Thread(() -> {
                try {
                    OutputStream out = socket.getOutputStream();
                    out.write(request);
                    out.flush();
                } catch (IOException e) {
                    // the server answered and closed before reading everything: expected for some cases
                }
            });
            writer.start();
            Response response = read(socket.getInputStream());
            writer.join();
            return response;
        }
    }

    /** Reads one response through to the end of the stream. */
    static Response read(InputStream in) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try {
            for (int n; (n = in.read(buffer)) >= 0;) {
                all.write(buffer, 0, n);
            }
        } catch (java.net.SocketException e) {
            // a reset after the answer: what was read stands
        }
        return parse(all.toByteArray());
    }

    static Response parse(byte[] raw) {
        String text = new String(raw, StandardCharsets.ISO_8859_1);
        int end = text.indexOf("\r\n\r\n");
        if (end < 0) {
            throw new AssertionError("no complete response head in " + raw.length + " bytes: " + text);
        }
        String[] lines = text.substring(0, end).split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
        }
        byte[] body = java.util.Arrays.copyOfRange(raw, end + 4, raw.length);
        return new Response(status, headers, body);
    }

    /** Reads a response head (status line and headers), leaving the body in the stream. */
    static String head(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) {
                throw new AssertionError("connection closed after: " + head);
            }
            head.append((char) b);
        }
        return head.toString();
    }

    /** Waits until the edge guards every server (it is installed when the first server reports listening). */
    static void awaitInstalled(HttpEdge edge) throws InterruptedException {
        for (int i = 0; i < 600 && !edge.installed(); i++) {
            Thread.sleep(50);
        }
        if (!edge.installed()) {
            throw new AssertionError("the HTTP edge was never installed");
        }
    }
}
