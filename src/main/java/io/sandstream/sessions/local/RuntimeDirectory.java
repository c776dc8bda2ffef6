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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import org.jboss.logging.Logger;

import io.sandstream.sessions.local.FileChecks.Stat;

/**
 * What sandboxes load — the runners and the compiled seccomp filter — in a directory only the
 * service can write: mode 700, owned by the service's uid. Sandboxes never read it by path: the
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
    /** matplotlib's font list, built once here so that no session builds its own (see {@link #fontCache()}). */
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
    private static final List<String> SCRIPTS = List.of("runner.py", "runner.js", Runner.SCRIPT_RUNNER, "seccomp_filter.py");

    private final Path dir;
    private final Stat dirStat;
    /** The files as written: a file of the same name but another inode was replaced. */
    private final Map<String, Stat> written = new ConcurrentHashMap<>();
    /** The name matplotlib looks for in its cache directory, when {@link #FONT_CACHE} was built. */
    private volatile Optional<String> fontCacheName = Optional.empty();

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

    /** Writes the runners and the filter's source, verifies the source and compiles the filter from it. */
    void populate(String python) {
        try {
            for (String script : SCRIPTS) {
                try (InputStream in = SandboxLauncher.class.getResourceAsStream("/sandbox/" + script)) {
                    write(script, in.readAllBytes());
                }
            }
            compileSeccompFilter(python);
            buildFontCache(python);
        } catch (RuntimeCheckFailed e) {
            throw new IllegalStateException(e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the sandbox runtime in " + dir, e);
        }
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

    /** From the copy written just now, checked before python runs it. */
    private void compileSeccompFilter(String python) throws IOException {
        verify("seccomp_filter.py", Stat.of(file("seccomp_filter.py"), false));
        Path fresh = dir.resolve(SECCOMP + ".new");
        Files.deleteIfExists(fresh);
        // -I: no PYTHON* variables, no user site, no script directory on the path.
        Process compile = new ProcessBuilder(python, "-I", file("seccomp_filter.py").toString(), fresh.toString())
                .redirectErrorStream(true).start();
        try {
            String output = new String(compile.getInputStream().readAllBytes());
            if (!compile.waitFor(30, TimeUnit.SECONDS) || compile.exitValue() != 0) {
                throw new IllegalStateException("cannot build the seccomp filter (is python3-seccomp installed?): " + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while building the seccomp filter", e);
        }
        install(SECCOMP, fresh);
    }

    /**
     * matplotlib builds its font list on first use, in its cache directory: about 0.3 s of a
     * session's first {@code import matplotlib.pyplot} (plus a {@code fc-list} run and its cache),
     * every session again. Built once here, by the sandboxes' interpreter over the same read-only
     * {@code /usr}, and copied read-only into each Python sandbox. No matplotlib, or a font outside
     * {@code /usr}: no shared list, and sessions build their own as before.
     */
    private void buildFontCache(String python) throws IOException {
        Path work = dir.resolve("matplotlib.new");
        if (Files.exists(work, LinkOption.NOFOLLOW_LINKS)) {
            try (var old = Files.list(work)) {
                for (Path p : old.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(work);
        }
        Files.createDirectory(work, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        try {
            ProcessBuilder builder = new ProcessBuilder(python, "-I", "-c", FONT_CACHE_BUILDER).redirectErrorStream(true);
            builder.environment().clear();
            builder.environment().putAll(Map.of("PATH", "/usr/bin:/bin", "MPLCONFIGDIR", work.toString(), "LANG", "C.UTF-8"));
            Process build = builder.start();
            // The name is the last line: matplotlib may warn before it.
            String output = new String(build.getInputStream().readAllBytes()).strip().lines().reduce((a, b) -> b).orElse("");
            if (!build.waitFor(60, TimeUnit.SECONDS)) {
                build.destroyForcibly();
                LOG.warn("building matplotlib's font list timed out: each session builds its own");
            } else if (build.exitValue() == 3) {
                LOG.debug("no matplotlib for the sandboxes' python: no shared font list");
            } else if (build.exitValue() != 0 || !output.matches("fontlist-v\\d+\\.json")) {
                LOG.warnf("no shared matplotlib font list (each session builds its own): exit %d, %s",
                        build.exitValue(), output);
            } else {
                install(FONT_CACHE, work.resolve(output));
                fontCacheName = Optional.of(output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            try (var left = Files.list(work)) {
                for (Path p : left.toList()) {
                    Files.delete(p);
                }
            }
            Files.delete(work);
        }
    }

    /** The file name under which a Python sandbox gets {@link #FONT_CACHE}, when there is one. */
    Optional<String> fontCache() {
        return fontCacheName;
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
