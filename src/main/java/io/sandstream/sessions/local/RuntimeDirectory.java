package io.sandstream.sessions.local;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.jboss.logging.Logger;

import io.sandstream.sessions.local.FileChecks.Stat;

/**
 * What sandboxes load — the runners and the compiled seccomp filter — in a directory only the
 * service can write: mode 700, owned by the service's uid. The Python runners are written as
 * sources, each assembled from the shared file operations ({@value #RUNNER_FILES}) and its own
 * part, and compiled here by the sandboxes' interpreter to the bytecode a sandbox runs: one
 * implementation of the file operations, one file per sandbox to check, and no compile in any
 * sandbox's start. Sandboxes never read it by path: the
 * launcher's shell opens the filter and the runner (as the service, before dropping to the
 * sandbox's uid) and bubblewrap copies the runner from that descriptor into the sandbox
 * ({@code --ro-bind-data}), so the directory can stay closed to every other uid, the sandbox uids
 * included. Each start checks the directory by path and the two opened files by descriptor
 * ({@code /proc/PID/fd}): owner, mode and that each is the very file written here — whoever swaps
 * a parent directory or a file is refused, with no window between check and use.
 */
final class RuntimeDirectory {

    private static final Logger LOG = Logger.getLogger(RuntimeDirectory.class);
    static final String SECCOMP = "seccomp.bpf";
    /** matplotlib's font list, built once here so that no session builds its own (see {@link #buildFontCacheInBackground}). */
    static final String FONT_CACHE = "fontlist.json";
    /**
     * Builds the font list in {@code MPLCONFIGDIR} and prints its file name; refuses (exit 4) a
     * list naming a font outside {@code /usr}, which the sandboxes could not open.
     */
    private static final String FONT_CACHE_BUILDER = "import json, os, sys\n"
            + "try:\n    from matplotlib import font_manager as fm\nexcept ImportError:\n    sys.exit(3)\n"
            + "name = 'fontlist-v%s.json' % fm.FontManager.__version__\n"
            + "with open(os.path.join(os.environ['MPLCONFIGDIR'], name)) as f:\n    fonts = json.load(f)\n"
            + "for font in fonts['ttflist'] + fonts['afmlist']:\n"
            + "    if os.path.isabs(font['fname']) and not font['fname'].startswith('/usr/'):\n"
            + "        print(font['fname'])\n        sys.exit(4)\n"
            + "print(name)\n";
    /** Resources written as they are. */
    private static final List<String> SCRIPTS = List.of("runner.js", "seccomp_filter.py");
    /** The part every Python runner begins with: the file operations. */
    static final String RUNNER_FILES = "runner_files.py";
    /** Compiles each source (argv: source, bytecode file, name in tracebacks, ...) to an unchecked pyc. */
    private static final String RUNNER_COMPILER = "import py_compile, sys\n"
            + "args = sys.argv[1:]\n"
            + "for source, pyc, name in zip(args[0::3], args[1::3], args[2::3]):\n"
            + "    py_compile.compile(source, pyc, name, doraise=True,"
            + " invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n";

    private final Path dir;
    private final Stat dirStat;
    /** The files as written: a file of the same name but another inode was replaced. */
    private final Map<String, Stat> written = new ConcurrentHashMap<>();
    /** The name matplotlib looks for in its cache directory, once {@link #FONT_CACHE} is built; empty when it cannot be. */
    private final CompletableFuture<Optional<String>> fontCacheName = new CompletableFuture<>();
    /** The font list's build while it runs: stopped by {@link #close()}. */
    private volatile Process fontCacheBuild;
    /** Done once the runners and the filter are written and compiled ({@link #prepareInBackground}). */
    private final CompletableFuture<Void> prepared = new CompletableFuture<>();
    /** The thread writing and compiling them, while it runs, and its python run: stopped by {@link #close()}. */
    private volatile Thread preparation;
    private volatile Process compiling;
    private volatile boolean closed;

    private RuntimeDirectory(Path dir, Stat dirStat) {
        this.dir = dir;
        this.dirStat = dirStat;
    }

    /** Creates the directory (mode 700) or checks the configured one; writes nothing yet. */
    static RuntimeDirectory open(Path dir) {
        try {
            if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectories(dir.getParent());
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            }
            RuntimeDirectory runtime = new RuntimeDirectory(dir, Stat.of(dir, false));
            runtime.verifyDirectory();
            return runtime;
        } catch (RuntimeCheckFailed e) {
            throw new IllegalStateException(e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the sandbox runtime in " + dir, e);
        }
    }

    /**
     * {@link #populate} off the service's start path: its two runs of the sandboxes' python (about
     * 0.1 s of CPU each on a quiet machine, much more while the JVM starts beside them) no longer
     * hold up readiness. Every sandbox start waits for it ({@link #awaitPrepared}); a failure (no
     * python3-seccomp, say) fails each start, which the pools' readiness reports.
     */
    void prepareInBackground(String python) {
        Thread thread = new Thread(() -> {
            try {
                populate(python);
                prepared.complete(null);
            } catch (RuntimeException e) {
                prepared.completeExceptionally(e);
                if (!closed) {
                    LOG.errorf("no sandbox can start: %s", e.getMessage());
                }
            } finally {
                preparation = null;
            }
        }, "sandbox-runtime");
        thread.setDaemon(true);
        preparation = thread;
        thread.start();
    }

    /** Waits until the runners and the filter are in place; at most the two compiles' own time limits. */
    void awaitPrepared() throws IOException {
        try {
            prepared.get(70, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while the sandbox runtime was prepared", e);
        } catch (ExecutionException e) {
            throw new IOException(e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IOException("the sandbox runtime in " + dir + " is still being prepared", e);
        }
    }

    /**
     * Writes the runners and the filter's source, compiles the Python runners and the filter from
     * what was written; matplotlib's font list is built apart ({@link #buildFontCacheInBackground}).
     */
    void populate(String python) {
        try {
            for (String script : SCRIPTS) {
                write(script, resource(script));
            }
            byte[] files = resource(RUNNER_FILES);
            for (Runner runner : Runner.values()) {
                if (runner.source.endsWith(".py") && !written.containsKey(runner.source)) {
                    write(runner.source, concat(files, resource(runner.source)));
                }
            }
            compileRunners(python);
            compileSeccompFilter(python);
        } catch (RuntimeCheckFailed e) {
            throw new IllegalStateException(e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the sandbox runtime in " + dir, e);
        }
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = SandboxLauncher.class.getResourceAsStream("/sandbox/" + name)) {
            return in.readAllBytes();
        }
    }

    private static byte[] concat(byte[] first, byte[] second) {
        byte[] both = Arrays.copyOf(first, first.length + 1 + second.length);
        both[first.length] = '\n';
        System.arraycopy(second, 0, both, first.length + 1, second.length);
        return both;
    }

    Path path() {
        return dir;
    }

    Path file(String name) {
        return dir.resolve(name);
    }

    /** Written owner-only to a fresh name, then moved over the old file: never written through a link. */
    private void write(String name, byte[] content) throws IOException {
        Path fresh = dir.resolve(name + ".new");
        Files.deleteIfExists(fresh);
        Files.write(fresh, content, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        install(name, fresh);
    }

    private void install(String name, Path fresh) throws IOException {
        Files.setPosixFilePermissions(fresh, PosixFilePermissions.fromString("rw-------"));
        Files.move(fresh, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Stat stat = Stat.of(dir.resolve(name), false);
        written.put(name, stat);
        verify(name, stat);
    }

    /** Each Python runner's bytecode, from the sources written just now, checked before python reads them. */
    private void compileRunners(String python) throws IOException {
        List<String> command = new ArrayList<>(List.of(python, "-I", "-c", RUNNER_COMPILER));
        Map<String, Path> compiled = new LinkedHashMap<>();
        for (Runner runner : Runner.values()) {
            if (runner.source.endsWith(".py") && !compiled.containsKey(runner.script)) {
                verify(runner.source, Stat.of(file(runner.source), false));
                Path fresh = dir.resolve(runner.script + ".new");
                Files.deleteIfExists(fresh);
                compiled.put(runner.script, fresh);
                command.addAll(List.of(file(runner.source).toString(), fresh.toString(), "/opt/sandstream/" + runner.source));
            }
        }
        runPython(command, "compile the sandbox runners");
        for (var pyc : compiled.entrySet()) {
            install(pyc.getKey(), pyc.getValue());
        }
    }

    /** From the copy written just now, checked before python runs it. */
    private void compileSeccompFilter(String python) throws IOException {
        verify("seccomp_filter.py", Stat.of(file("seccomp_filter.py"), false));
        Path fresh = dir.resolve(SECCOMP + ".new");
        Files.deleteIfExists(fresh);
        runPython(List.of(python, "-I", file("seccomp_filter.py").toString(), fresh.toString()),
                "build the seccomp filter (is python3-seccomp installed?)");
        install(SECCOMP, fresh);
    }

    /** Runs the sandboxes' interpreter ({@code -I}: no PYTHON* variables, no user site, no script directory on the path). */
    private void runPython(List<String> command, String what) throws IOException {
        if (closed) {
            throw new IllegalStateException("cannot " + what + ": the sandboxes are closed");
        }
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        compiling = process;
        if (closed) {
            process.destroyForcibly();
        }
        try {
            String output = new String(process.getInputStream().readAllBytes());
            if (!process.waitFor(30, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IllegalStateException("cannot " + what + ": " + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while trying to " + what, e);
        }
    }

    /**
     * matplotlib builds its font list on first use, in its cache directory: about 0.3 s of a
     * session's first {@code import matplotlib.pyplot} (plus a {@code fc-list} run and its cache,
     * and a warning on the execution's stderr), every session again. Built once here, by the
     * sandboxes' interpreter over the same read-only {@code /usr}, and copied read-only into each
     * Python sandbox. The build takes about a second: it runs in the background, off the service's
     * start path, and only Python sandboxes wait for it ({@link #awaitFontCache}). No matplotlib, or a
     * font outside {@code /usr}: no shared list, and sessions build their own as before.
     */
    void buildFontCacheInBackground(String python) {
        Thread build = new Thread(() -> {
            Optional<String> name = Optional.empty();
            try {
                name = buildFontCache(python);
            } catch (IOException | RuntimeException e) {
                if (!closed) {
                    LOG.warnf("no shared matplotlib font list (each session builds its own): %s", e.getMessage());
                }
            } finally {
                fontCacheName.complete(name);
            }
        }, "matplotlib-font-list");
        build.setDaemon(true);
        build.start();
    }

    private Optional<String> buildFontCache(String python) throws IOException {
        Path work = dir.resolve("matplotlib.new");
        if (Files.exists(work, LinkOption.NOFOLLOW_LINKS)) {
            deleteTree(work);
        }
        Files.createDirectory(work, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            ProcessBuilder builder = new ProcessBuilder(python, "-I", "-c", FONT_CACHE_BUILDER).redirectErrorStream(true);
            builder.environment().clear();
            builder.environment().putAll(Map.of("PATH", "/usr/bin:/bin", "MPLCONFIGDIR", work.toString(), "LANG", "C.UTF-8"));
            Process build = builder.start();
            fontCacheBuild = build;
            if (closed) {
                build.destroyForcibly();
            }
            // The name is the last line: matplotlib may warn before it.
            String output = new String(build.getInputStream().readAllBytes()).strip().lines().reduce((a, b) -> b).orElse("");
            if (!build.waitFor(60, TimeUnit.SECONDS)) {
                build.destroyForcibly();
                LOG.warn("building matplotlib's font list timed out: each session builds its own");
            } else if (closed) {
                return Optional.empty();
            } else if (build.exitValue() == 3) {
                LOG.debug("no matplotlib for the sandboxes' python: no shared font list");
            } else if (build.exitValue() != 0 || !output.matches("fontlist-v\\d+\\.json")) {
                LOG.warnf("no shared matplotlib font list (each session builds its own): exit %d, %s",
                        build.exitValue(), output);
            } else {
                install(FONT_CACHE, work.resolve(output));
                return Optional.of(output);
            }
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } finally {
            fontCacheBuild = null;
            deleteTree(work);
        }
    }

    private static void deleteTree(Path work) throws IOException {
        try (var left = Files.list(work)) {
            for (Path p : left.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(work);
    }

    /**
     * The file name under which a Python sandbox gets {@link #FONT_CACHE}, when there is one; waits
     * while the list is being built (about a second after the service starts; at most the build's
     * own time limit).
     */
    Optional<String> awaitFontCache() throws IOException {
        try {
            return fontCacheName.get(70, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for matplotlib's font list", e);
        } catch (ExecutionException | TimeoutException e) {
            return Optional.empty();
        }
    }

    /** Stops the font list's build if it still runs, and the preparation, which writes nothing after this returns. */
    void close() {
        closed = true;
        for (Process process : new Process[] { fontCacheBuild, compiling }) {
            if (process != null) {
                process.destroyForcibly();
            }
        }
        fontCacheName.complete(Optional.empty());
        Thread thread = preparation;
        if (thread != null && thread != Thread.currentThread()) {
            try {
                thread.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        prepared.completeExceptionally(new IllegalStateException("the sandboxes are closed"));
    }

    /** By path, one stat: still our own directory, closed to everyone else. */
    void verifyDirectory() throws IOException {
        Stat now = Stat.of(dir, false);
        if (!now.isDirectory()) {
            throw new RuntimeCheckFailed("refusing the sandbox runtime directory " + dir + ": not a directory (a link?)");
        }
        if (now.uid() != FileChecks.SERVICE_UID) {
            throw new RuntimeCheckFailed("refusing the sandbox runtime directory " + dir + ": " + now.describe()
                    + ", not this service's uid " + FileChecks.SERVICE_UID + " (set sandstream.sessions.runtime-dir to a directory of its own)");
        }
        if (now.writableByOthers()) {
            throw new RuntimeCheckFailed("refusing the sandbox runtime directory " + dir + ": writable by group or others ("
                    + now.describe() + ")");
        }
        if (!now.sameFile(dirStat)) {
            throw new RuntimeCheckFailed("refusing the sandbox runtime directory " + dir + ": replaced since the service wrote it");
        }
    }

    /** The file a sandbox's shell opened as {@code fd}, seen through /proc: one stat. */
    void verifyOpened(long pid, int fd, String name) throws IOException {
        verify(name, Stat.of(Path.of("/proc", Long.toString(pid), "fd", Integer.toString(fd)), true));
    }

    private void verify(String name, Stat stat) throws RuntimeCheckFailed {
        String problem = null;
        if (!stat.isRegularFile()) {
            problem = "not a regular file";
        } else if (stat.uid() != FileChecks.SERVICE_UID || (stat.mode() & 0077) != 0) {
            problem = stat.describe() + " instead of uid " + FileChecks.SERVICE_UID + ", mode 0600";
        } else if (!stat.sameFile(written.get(name))) {
            problem = "replaced since the service wrote it";
        }
        if (problem != null) {
            throw new RuntimeCheckFailed("refusing to start a sandbox: the runtime file " + file(name) + " was changed: " + problem);
        }
    }

    /** A runtime file or the directory is not what the service wrote: no sandbox starts on it. */
    static final class RuntimeCheckFailed extends IOException {
        RuntimeCheckFailed(String message) {
            super(message);
        }
    }
}
