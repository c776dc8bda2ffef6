package io.sandstream.poolapi;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import jakarta.enterprise.context.ApplicationScoped;

import com.fasterxml.jackson.annotation.JsonInclude;

import org.jboss.logging.Logger;

import io.sandstream.config.SandstreamConfig;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.infrastructure.Infrastructure;

/**
 * What {@code GET metadata} reports for a pool: its language's runtime and version, and for python
 * the distributions the interpreter sees. Probed once per language, on a worker thread, the first
 * time it is asked for, by running the interpreter the sandboxes run ({@code -I}: as in the
 * sandbox, the system site-packages only; {@code /usr} is bound read-only into every sandbox).
 */
@ApplicationScoped
public class RuntimeMetadata {

    private static final Logger LOG = Logger.getLogger(RuntimeMetadata.class);
    private static final String PYTHON_PROBE = "import sys, importlib.metadata as m\n"
            + "print(sys.version.split()[0])\n"
            + "for d in m.distributions():\n    print(d.metadata['Name'], d.version, sep='\\t')\n";

    /** {@code version} is null when the probe failed. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Metadata(String language, List<Runtime> runtimes, List<Package> packages) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Runtime(String name, String version) {
    }

    public record Package(String name, String version) {
    }

    private final SandstreamConfig config;
    private final Map<String, Uni<Metadata>> probes = new ConcurrentHashMap<>();

    public RuntimeMetadata(SandstreamConfig config) {
        this.config = config;
    }

    /** The metadata of a pool's language, probed on first use and then remembered. */
    public Uni<Metadata> of(String language) {
        return probes.computeIfAbsent(language, lang -> Uni.createFrom().item(() -> probe(lang))
                .runSubscriptionOn(Infrastructure.getDefaultWorkerPool()).memoize().indefinitely());
    }

    private Metadata probe(String language) {
        if (language.equals("python")) {
            List<String> lines = run(List.of(config.sessions().python(), "-I", "-c", PYTHON_PROBE));
            Map<String, Package> packages = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
            for (String line : lines.isEmpty() ? List.<String>of() : lines.subList(1, lines.size())) {
                String[] parts = line.split("\t", 2);
                if (parts.length == 2 && !parts[0].isBlank() && !parts[0].equals("None")) {
                    packages.putIfAbsent(parts[0], new Package(parts[0], parts[1]));
                }
            }
            String version = lines.isEmpty() ? null : lines.get(0).trim();
            return new Metadata(language, List.of(new Runtime("python", version)), new ArrayList<>(packages.values()));
        }
        if (language.equals("javascript")) {
            List<String> lines = run(List.of(config.sessions().node(), "--version"));
            String version = lines.isEmpty() ? null : lines.get(0).trim().replaceFirst("^v", "");
            return new Metadata(language, List.of(new Runtime("node", version)), List.of());
        }
        return new Metadata(language, List.of(), List.of());
    }

    /** The command's stdout lines, or none when it failed. */
    private static List<String> run(List<String> command) {
        try {
            Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            byte[] out = process.getInputStream().readAllBytes();
            if (!process.waitFor(10, TimeUnit.SECONDS) || process.exitValue() != 0) {
                process.destroyForcibly();
                LOG.warnf("runtime probe %s failed", command.get(0));
                return List.of();
            }
            return new String(out, StandardCharsets.UTF_8).lines().toList();
        } catch (IOException e) {
            LOG.warnf("runtime probe %s failed: %s", command.get(0), e.getMessage());
            return List.of();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return List.of();
        }
    }
}
