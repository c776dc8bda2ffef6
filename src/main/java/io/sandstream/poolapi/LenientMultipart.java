package io.sandstream.poolapi;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;

import org.jboss.logging.Logger;

/**
 * An upload whose declared content type is not {@code multipart/form-data} but whose body is one.
 * Semantic Kernel Python sets {@code Content-Type: application/json} on its shared httpx client for
 * an execution, and httpx keeps a client header over the one it would give a multipart body, so the
 * next upload arrives labelled JSON with a multipart body and no boundary parameter. Such a body is
 * recognised by its first line, the boundary delimiter {@code --<boundary>} (RFC 2046 §5.1.1), and
 * read here; anything else is still {@code 415}.
 */
final class LenientMultipart {

    private static final Logger LOG = Logger.getLogger(LenientMultipart.class);
    /** RFC 2046's boundary: 1 to 70 of its characters, not ending in a space. */
    private static final Pattern BOUNDARY = Pattern.compile("[0-9A-Za-z'()+_,\\-./:=? ]{0,69}[0-9A-Za-z'()+_,\\-./:=?]");
    private static final byte[] CRLF = { '\r', '\n' };
    /** The first time in this process is logged at INFO (a client to know about), later ones at DEBUG. */
    private static final AtomicBoolean REPORTED = new AtomicBoolean();

    private LenientMultipart() {
    }

    /** The part {@code file} of a body labelled {@code declaredType}: a {@code 415} unless the body is multipart. */
    static PoolApiGuard.Upload upload(String declaredType, byte[] body) {
        String boundary = boundary(body);
        if (boundary == null) {
            throw new PoolApiException(415, "UnsupportedMediaType",
                    "Send the file as multipart/form-data with the part 'file'.");
        }
        Logger.Level level = REPORTED.compareAndSet(false, true) ? Logger.Level.INFO : Logger.Level.DEBUG;
        LOG.logf(level, "an upload labelled '%s' has a multipart body (its first line is a boundary): read as"
                + " multipart/form-data", declaredType);
        return file(body, boundary);
    }

    /** The boundary of a body whose first line is a delimiter, or null. */
    static String boundary(byte[] body) {
        if (body == null || body.length < 4 || body[0] != '-' || body[1] != '-') {
            return null;
        }
        int end = indexOf(body, CRLF, 2, Math.min(body.length, 2 + 70 + 2));
        if (end < 0) {
            return null;
        }
        String boundary = new String(body, 2, end - 2, StandardCharsets.ISO_8859_1);
        return BOUNDARY.matcher(boundary).matches() ? boundary : null;
    }

    private static PoolApiGuard.Upload file(byte[] body, String boundary) {
        byte[] delimiter = ("\r\n--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
        int at = 2 + boundary.length();
        while (true) {
            // After a delimiter: "--" closes the body, CRLF opens a part (transport padding is not sent by clients).
            if (startsWith(body, at, new byte[] { '-', '-' })) {
                throw PoolApiException.badRequest("MissingFile", "Send the file as the multipart part 'file'.");
            }
            if (!startsWith(body, at, CRLF)) {
                throw malformed();
            }
            int headersEnd = indexOf(body, new byte[] { '\r', '\n', '\r', '\n' }, at + 2, body.length);
            int next = headersEnd < 0 ? -1 : indexOf(body, delimiter, headersEnd + 4, body.length);
            if (next < 0) {
                throw malformed();
            }
            Map<String, String> disposition = disposition(new String(body, at + 2, headersEnd - at - 2,
                    StandardCharsets.UTF_8));
            if ("file".equals(disposition.get("name"))) {
                String name = disposition.containsKey("filename*") ? disposition.get("filename*") : disposition.get("filename");
                if (name == null) {
                    throw malformed();
                }
                return PoolApiGuard.upload(name, Arrays.copyOfRange(body, headersEnd + 4, next));
            }
            at = next + delimiter.length;
        }
    }

    /** The parameters of a part's {@code Content-Disposition} (names lower-cased, values unquoted and decoded). */
    private static Map<String, String> disposition(String headers) {
        Map<String, String> parameters = new LinkedHashMap<>();
        for (String line : headers.split("\r\n", -1)) {
            int colon = line.indexOf(':');
            if (colon < 0 || !line.substring(0, colon).trim().equalsIgnoreCase("Content-Disposition")) {
                continue;
            }
            String rest = line.substring(colon + 1);
            int i = rest.indexOf(';');
            while (i >= 0 && i < rest.length()) {
                int eq = rest.indexOf('=', i);
                if (eq < 0) {
                    break;
                }
                String name = rest.substring(i + 1, eq).trim().toLowerCase(Locale.ROOT);
                int from = eq + 1;
                String value;
                if (from < rest.length() && rest.charAt(from) == '"') {
                    int close = rest.indexOf('"', from + 1);
                    if (close < 0) {
                        throw malformed();
                    }
                    value = rest.substring(from + 1, close);
                    i = rest.indexOf(';', close);
                } else {
                    int semicolon = rest.indexOf(';', from);
                    value = (semicolon < 0 ? rest.substring(from) : rest.substring(from, semicolon)).trim();
                    i = semicolon;
                }
                parameters.put(name, name.endsWith("*") ? extended(value) : value);
            }
        }
        return parameters;
    }

    /** RFC 5987's {@code charset'language'percent-encoded}, as .NET writes {@code filename*}. */
    private static String extended(String value) {
        int first = value.indexOf('\'');
        int second = first < 0 ? -1 : value.indexOf('\'', first + 1);
        if (second < 0 || !value.substring(0, first).equalsIgnoreCase("utf-8")) {
            throw malformed();
        }
        try {
            return URLDecoder.decode(value.substring(second + 1).replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw malformed();
        }
    }

    private static PoolApiException malformed() {
        return PoolApiException.badRequest("InvalidRequestBody", "The multipart body is malformed.");
    }

    private static boolean startsWith(byte[] body, int at, byte[] prefix) {
        return at + prefix.length <= body.length && Arrays.equals(body, at, at + prefix.length, prefix, 0, prefix.length);
    }

    /** The first index of {@code needle} in {@code body[from, to)}, or -1. */
    private static int indexOf(byte[] body, byte[] needle, int from, int to) {
        outer:
        for (int i = from; i + needle.length <= to; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (body[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
