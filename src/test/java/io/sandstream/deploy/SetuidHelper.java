package io.sandstream.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Builds the images' uid helper ({@code src/main/docker/sandstream-setuid.c}) with the machine's gcc, as the images do. */
public final class SetuidHelper {

    public static final Path SOURCE = Path.of("src/main/docker/sandstream-setuid.c");
    /** The compiler flags of both Dockerfiles' helper stage. */
    public static final List<String> FLAGS = List.of("-O2", "-Wall", "-Wextra", "-Werror");

    private SetuidHelper() {
    }

    /** Compiles the helper into {@code dir}; {@code defines} such as {@code -DSANDBOX_UID_MIN=300000}. */
    public static Path compile(Path dir, String... defines) throws IOException, InterruptedException {
        Path binary = dir.resolve("sandstream-setuid");
        List<String> command = new ArrayList<>(List.of("gcc"));
        command.addAll(FLAGS);
        command.addAll(List.of(defines));
        command.addAll(List.of("-o", binary.toString(), SOURCE.toAbsolutePath().toString()));
        Process gcc = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (gcc.waitFor() != 0) {
            throw new IllegalStateException("gcc failed (run .ci/setup): " + output);
        }
        return binary;
    }
}
