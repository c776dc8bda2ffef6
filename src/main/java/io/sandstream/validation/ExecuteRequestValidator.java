package io.sandstream.validation;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import jakarta.enterprise.context.ApplicationScoped;

import com.fasterxml.jackson.databind.JsonNode;

import io.sandstream.config.SandstreamConfig;
import io.sandstream.model.ExecuteRequest;
import io.sandstream.model.Language;
import io.sandstream.model.Priority;
import io.sandstream.problem.Problem.FieldError;

/**
 * Checks the {@code data} of an execute request against the public contract and reports every
 * field error at once, each with a JSON Pointer.
 */
@ApplicationScoped
public class ExecuteRequestValidator {

    /** Azure dynamic sessions' identifier rule: 4–128 characters from this set. */
    public static final Pattern SESSION_ID = Pattern.compile("[A-Za-z0-9|\\-&^%$#(){}\\[\\];<>]{4,128}");
    private static final int MAX_FILE_NAME_BYTES = 255;
    /** Line breaks are tolerated in base64 (MIME style); anything else outside the alphabet is an error. */
    private static final Pattern WHITESPACE = Pattern.compile("[\\r\\n\\t ]");

    private final SandstreamConfig.Execution limits;
    /** The languages the configured pools run, local and ACA (each pool refuses at start one it cannot run). */
    private final Set<Language> languages;
    private final String languageProblem;

    public ExecuteRequestValidator(SandstreamConfig config) {
        this.limits = config.execution();
        this.languages = Set.copyOf(Stream.concat(config.pools().values().stream().map(SandstreamConfig.Pool::language),
                config.acaPools().values().stream().map(SandstreamConfig.AcaPool::language)).toList());
        this.languageProblem = "must be a language a configured pool runs: "
                + String.join(", ", new TreeSet<>(languages.stream().map(Language::wireName).toList()));
    }

    /** Either the request or the list of what is wrong with it. */
    public record Result(ExecuteRequest request, List<FieldError> errors) {
        public boolean valid() {
            return errors.isEmpty();
        }
    }

    /**
     * @param data the request object
     * @param pointer JSON Pointer of {@code data} inside the request, used as the errors' prefix
     */
    public Result validate(JsonNode data, String pointer) {
        List<FieldError> errors = new ArrayList<>();
        if (data == null || !data.isObject()) {
            errors.add(new FieldError(pointer, "must be a JSON object with at least a 'code' field"));
            return new Result(null, errors);
        }

        String code = null;
        JsonNode codeNode = data.get("code");
        if (codeNode == null || codeNode.isNull()) {
            errors.add(new FieldError(pointer + "/code", "is required"));
        } else if (!codeNode.isTextual()) {
            errors.add(new FieldError(pointer + "/code", "must be a string"));
        } else if (codeNode.textValue().isBlank()) {
            errors.add(new FieldError(pointer + "/code", "must not be empty"));
        } else if (utf8Length(codeNode.textValue()) > limits.maxCodeBytes()) {
            errors.add(new FieldError(pointer + "/code", "must be at most " + limits.maxCodeBytes() + " bytes of UTF-8"));
        } else {
            code = codeNode.textValue();
        }

        Language language = Language.PYTHON;
        JsonNode languageNode = data.get("language");
        if (languageNode != null && !languageNode.isNull()) {
            Optional<Language> parsed = languageNode.isTextual() ? Language.parse(languageNode.textValue()) : Optional.empty();
            language = parsed.orElse(null);
        }
        if (language == null || !languages.contains(language)) {
            errors.add(new FieldError(pointer + "/language", languageProblem));
        }

        Optional<String> sessionId = Optional.empty();
        JsonNode sessionNode = data.get("sessionId");
        if (sessionNode != null && !sessionNode.isNull()) {
            if (!sessionNode.isTextual() || !SESSION_ID.matcher(sessionNode.textValue()).matches()) {
                errors.add(new FieldError(pointer + "/sessionId",
                        "must be 4 to 128 characters: letters, digits and | - & ^ % $ # ( ) { } [ ] ; < >"));
            } else {
                sessionId = Optional.of(sessionNode.textValue());
            }
        }

        int timeout = limits.defaultTimeoutSeconds();
        JsonNode timeoutNode = data.get("timeoutSeconds");
        if (timeoutNode != null && !timeoutNode.isNull()) {
            if (!timeoutNode.canConvertToExactIntegral() || !timeoutNode.canConvertToInt()
                    || timeoutNode.intValue() < 1 || timeoutNode.intValue() > limits.maxTimeoutSeconds()) {
                errors.add(new FieldError(pointer + "/timeoutSeconds",
                        "must be a whole number from 1 to " + limits.maxTimeoutSeconds()));
            } else {
                timeout = timeoutNode.intValue();
            }
        }

        Optional<Priority> priority = Optional.empty();
        JsonNode priorityNode = data.get("priority");
        if (priorityNode != null && !priorityNode.isNull()) {
            priority = priorityNode.isTextual() ? Priority.parse(priorityNode.textValue()) : Optional.empty();
            if (priority.isEmpty()) {
                errors.add(new FieldError(pointer + "/priority", "must be 'high', 'normal' or 'low'"));
            }
        }

        List<ExecuteRequest.InputFile> files = validateFiles(data.get("files"), pointer + "/files", errors);

        if (!errors.isEmpty()) {
            return new Result(null, errors);
        }
        return new Result(new ExecuteRequest(code, language, sessionId, timeout, priority, files), List.of());
    }

    private List<ExecuteRequest.InputFile> validateFiles(JsonNode filesNode, String pointer, List<FieldError> errors) {
        if (filesNode == null || filesNode.isNull()) {
            return List.of();
        }
        if (!filesNode.isArray()) {
            errors.add(new FieldError(pointer, "must be an array of {name, contentBase64}"));
            return List.of();
        }
        if (filesNode.size() > limits.maxFiles()) {
            errors.add(new FieldError(pointer, "must hold at most " + limits.maxFiles() + " files"));
            return List.of();
        }
        List<ExecuteRequest.InputFile> files = new ArrayList<>();
        List<String> names = new ArrayList<>();
        long total = 0;
        for (int i = 0; i < filesNode.size(); i++) {
            JsonNode file = filesNode.get(i);
            String at = pointer + "/" + i;
            if (!file.isObject()) {
                errors.add(new FieldError(at, "must be an object {name, contentBase64}"));
                continue;
            }
            JsonNode name = file.get("name");
            String nameProblem = name == null || !name.isTextual() ? "is required and must be a string"
                    : fileNameProblem(name.textValue());
            if (nameProblem != null) {
                errors.add(new FieldError(at + "/name", nameProblem));
            } else if (names.contains(name.textValue())) {
                errors.add(new FieldError(at + "/name", "is given twice"));
            }
            JsonNode content = file.get("contentBase64");
            byte[] bytes = null;
            if (content == null || !content.isTextual()) {
                errors.add(new FieldError(at + "/contentBase64", "is required and must be a base64 string"));
            } else {
                try {
                    bytes = Base64.getDecoder().decode(WHITESPACE.matcher(content.textValue()).replaceAll(""));
                    total += bytes.length;
                } catch (IllegalArgumentException e) {
                    errors.add(new FieldError(at + "/contentBase64", "is not valid base64"));
                }
            }
            if (nameProblem == null && bytes != null) {
                names.add(name.textValue());
                files.add(new ExecuteRequest.InputFile(name.textValue(), bytes));
            }
        }
        if (total > limits.maxFilesBytes()) {
            errors.add(new FieldError(pointer, "files must total at most " + limits.maxFilesBytes() + " bytes"));
        }
        return files;
    }

    /**
     * A file name is one path segment: no separators, no traversal, no control characters, so it
     * can only ever name an entry directly inside {@code /mnt/data}.
     */
    public static String fileNameProblem(String name) {
        if (name.isEmpty() || name.equals(".") || name.equals("..")) {
            return "must be a plain file name";
        }
        if (utf8Length(name) > MAX_FILE_NAME_BYTES) {
            return "must be at most " + MAX_FILE_NAME_BYTES + " bytes";
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) {
                return "must not contain '/', '\\' or control characters";
            }
        }
        return null;
    }

    static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
