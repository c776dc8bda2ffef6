package io.sandstream.sessions;

import java.util.List;

import io.sandstream.model.ExecuteRequest.InputFile;

/** What to run: the code, its wall-clock timeout and the files to place in {@code /mnt/data} first. */
public record ExecutionSpec(String code, int timeoutSeconds, List<InputFile> files) {
}
