package io.sandstream.sessions.local;

import java.util.Arrays;
import java.util.stream.Collectors;

import io.sandstream.model.Language;

/**
 * The language runners a local sandbox can start, and the one place that knows which language each
 * one runs: a local pool runs a language only when a runner here runs it.
 */
enum Runner {
    PYTHON(Language.PYTHON, "runner.py", 64),
    /** Node.js: V8 reserves about 1 GiB of address space up front. */
    NODE(Language.JAVASCRIPT, "runner.js", 1024),
    // Script runners: script_runner.py writes each execution's code to a file, compiles it where the
    // language needs it, and runs it as a child process (see docs/sandboxes.md).
    BASH(new Language("bash"), Runner.SCRIPT_RUNNER, 64),
    RUBY(new Language("ruby"), Runner.SCRIPT_RUNNER, 256),
    C(new Language("c"), Runner.SCRIPT_RUNNER, 256),
    CPP(new Language("cpp"), Runner.SCRIPT_RUNNER, 256),
    /** The go tool and Go programs reserve address space for their heaps and threads. */
    GO(new Language("go"), Runner.SCRIPT_RUNNER, 1024),
    /** The JVM reserves its class space and code cache up front. */
    JAVA(new Language("java"), Runner.SCRIPT_RUNNER, 3072),
    /** tsc and the program both run on Node. */
    TYPESCRIPT(new Language("typescript"), Runner.SCRIPT_RUNNER, 1024);

    static final String SCRIPT_RUNNER = "script_runner.py";

    final Language language;
    /** The runner's source among the resources under {@code /sandbox/}. */
    final String source;
    /**
     * The runner in the runtime directory, bound read-only into the sandbox under {@code /opt/sandstream}:
     * for the Python runners the bytecode {@link RuntimeDirectory} compiled from the source.
     */
    final String script;
    /** Address space allowed above the memory limit where no memory cgroup bounds the sandbox, MiB. */
    final long addressSpaceReserveMib;

    Runner(Language language, String script, long addressSpaceReserveMib) {
        this.language = language;
        this.source = script;
        this.script = script.endsWith(".py") ? script + "c" : script;
        this.addressSpaceReserveMib = addressSpaceReserveMib;
    }

    /** True for the languages run file by file by {@link #SCRIPT_RUNNER} rather than by a stateful interpreter. */
    boolean scripted() {
        return SCRIPT_RUNNER.equals(source);
    }

    /** The runner of local pool {@code pool}'s language; refused, naming the setting and what it allows, when none runs it. */
    static Runner of(String pool, Language language) {
        return Arrays.stream(values()).filter(r -> r.language.equals(language)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("sandstream.pools." + pool + ".language: no local sandbox"
                        + " runner runs '" + language + "'; local pools run " + Arrays.stream(values())
                                .map(r -> r.language.wireName()).collect(Collectors.joining(", "))));
    }
}
