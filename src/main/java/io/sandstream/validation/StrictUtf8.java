package io.sandstream.validation;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;

import io.sandstream.problem.Problem.FieldError;
import io.sandstream.problem.ProblemException;

/**
 * Strict UTF-8, where bytes become ids and code. Jackson decodes overlong forms ({@code C0 AF} as
 * {@code /}) and the JDK's default decoding turns bad bytes into U+FFFD, so two different byte
 * strings could become one id, and the second event a "duplicate" that never runs. Invalid input is
 * refused instead, naming where it is.
 */
public final class StrictUtf8 {

    private static final JsonFactory JSON = new JsonFactory();

    private StrictUtf8() {
    }

    /** Offset of the first byte that is not part of valid UTF-8, or -1 when all of it is valid. */
    public static int firstInvalid(byte[] bytes) {
        CharsetDecoder decoder = decoder();
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(Math.min(Math.max(bytes.length, 16), 8192));
        while (true) {
            CoderResult result = decoder.decode(in, out, true);
            if (result.isError()) {
                return in.position();
            }
            if (result.isUnderflow()) {
                return decoder.flush(out).isError() ? in.position() : -1;
            }
            out.clear();
        }
    }

    /** Decodes, refusing malformed input (overlong forms, surrogates, stray or missing continuation bytes). */
    public static String decode(byte[] bytes) throws CharacterCodingException {
        return decoder().decode(ByteBuffer.wrap(bytes)).toString();
    }

    /**
     * The field holding the first invalid byte of a JSON document, as a JSON Pointer ({@code /} when
     * it is outside any value); empty when the document is valid UTF-8.
     */
    public static Optional<FieldError> inJson(byte[] json) {
        int offset = firstInvalid(json);
        if (offset < 0) {
            return Optional.empty();
        }
        return Optional.of(new FieldError(pointerAt(json, offset), "is not valid UTF-8 (byte " + offset + ")"));
    }

    /** A {@code 400} problem when a JSON body is not valid UTF-8. */
    public static void requireJson(byte[] json) {
        inJson(json).ifPresent(error -> {
            throw ProblemException.badRequest("The body is not valid UTF-8 at '" + error.pointer() + "'.", List.of(error));
        });
    }

    /** Where Jackson was when it reached {@code offset}: the last token starting at or before it. */
    private static String pointerAt(byte[] json, int offset) {
        String pointer = "/";
        try (JsonParser parser = JSON.createParser(json)) {
            while (parser.nextToken() != null && parser.currentTokenLocation().getByteOffset() <= offset) {
                String at = parser.getParsingContext().pathAsPointer().toString();
                pointer = at.isEmpty() ? "/" : at;
            }
        } catch (IOException e) {
            // Jackson refuses some bad bytes itself (a stray FF); the pointer so far is where.
        }
        return pointer;
    }

    private static CharsetDecoder decoder() {
        return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
    }
}
