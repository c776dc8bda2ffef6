package io.sandstream.poolapi;

import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.enterprise.context.ApplicationScoped;

import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.jboss.logging.Logger;

import io.sandstream.model.Language;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionSpec;
import io.sandstream.sessions.SessionPool;
import io.smallrye.mutiny.Uni;

/**
 * What {@code GET metadata} reports for a pool, in the shape of the dynamic-sessions
 * {@code SessionPoolMetadataResponse}: the runtime and the packages its code can import, as a real
 * sandbox of the pool sees them. Asked once per pool, the first time a client wants it, by running
 * a probe in a fresh sandbox of that pool (so it costs one sandbox, and shows the interpreter,
 * binds and paths user code gets); a failed probe is not remembered, the next call asks again.
 * {@code jupyterKernel} is left out: no pool here runs a Jupyter kernel, and naming one would be false.
 */
@ApplicationScoped
public class RuntimeMetadata {

    private static final Logger LOG = Logger.getLogger(RuntimeMetadata.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int PROBE_TIMEOUT_SECONDS = 60;
    private static final int MAX_PACKAGES = 10_000;
    /** One JSON line: the interpreter's version and every distribution it can import, first of a name wins (as import does). */
    private static final String PYTHON_PROBE = "import sys, json, importlib.metadata as m\n"
            + "seen = {}\n"
            + "for d in m.distributions():\n"
            + "    name = d.metadata['Name']\n"
            + "    if name and name not in seen:\n"
            + "        seen[name] = d.version\n"
            + "print('\\n' + json.dumps({'runtime': sys.version.split()[0], 'packages': sorted(seen.items(), key=lambda p: p[0].lower())}))\n";
    /** The same from Node: its version and the packages {@code require} finds on its global paths. */
    private static final String NODE_PROBE = "(() => { const fs = require('fs'), path = require('path'), seen = {};\n"
            + "for (const dir of require('module').globalPaths) {\n"
            + "  let names = []; try { names = fs.readdirSync(dir); } catch (e) { continue; }\n"
            + "  for (const n of names) {\n"
            + "    let all = [n]; if (n.startsWith('@')) { try { all = fs.readdirSync(path.join(dir, n)).map(s => n + '/' + s); } catch (e) { all = []; } }\n"
            + "    for (const p of all) { try { const j = JSON.parse(fs.readFileSync(path.join(dir, p, 'package.json'), 'utf8'));\n"
            + "      if (typeof j.name === 'string' && typeof j.version === 'string' && !(j.name in seen)) seen[j.name] = j.version; } catch (e) {} }\n"
            + "  }\n"
            + "}\n"
            + "console.log('\\n' + JSON.stringify({runtime: process.versions.node, packages: Object.entries(seen).sort()})); })();\n";

    /** Field names and order as in the spec's {@code SessionPoolMetadataResponse}; times are RFC 3339. */
    @JsonPropertyOrder({ "runtimes", "preInstalledPackages", "createdAt", "lastUpdatedAt" })
    public record Metadata(List<Runtime> runtimes, List<Package> preInstalledPackages, String createdAt, String lastUpdatedAt) {
    }

    public record Runtime(String name, String version) {
    }

    public record Package(String name, String version) {
    }

    private final Map<String, CompletableFuture<Metadata>> probes = new ConcurrentHashMap<>();

    /** The pool's metadata, probed in one of its sandboxes on first use and then remembered. */
    public Uni<Metadata> of(SessionPool pool) {
        if (!"local".equals(pool.backend()) || (!pool.language().equals(Language.PYTHON) && !pool.language().equals(Language.JAVASCRIPT))) {
            // What an ACA pool runs is Azure's to say; nothing is probed there.
            String created = time(pool.createdAt());
            return Uni.createFrom().item(new Metadata(List.of(), List.of(), created, created));
        }
        CompletableFuture<Metadata> fresh = new CompletableFuture<>();
        CompletableFuture<Metadata> known = probes.putIfAbsent(pool.name(), fresh);
        if (known != null) {
            return Uni.createFrom().completionStage(known);
        }
        boolean python = pool.language().equals(Language.PYTHON);
        pool.run(Optional.empty(), new ExecutionSpec(python ? PYTHON_PROBE : NODE_PROBE, PROBE_TIMEOUT_SECONDS, List.of()))
                .subscribe().with(result -> {
                    try {
                        fresh.complete(parse(pool, python ? "python" : "node", result));
                    } catch (RuntimeException e) {
                        failed(pool, fresh, e);
                    }
                }, failure -> failed(pool, fresh, failure));
        return Uni.createFrom().completionStage(fresh);
    }

    private void failed(SessionPool pool, CompletableFuture<Metadata> probe, Throwable failure) {
        probes.remove(pool.name(), probe);
        probe.completeExceptionally(failure);
    }

    private static Metadata parse(SessionPool pool, String runtime, ExecutionResult result) {
        if (result.status() != ExecutionResult.Status.Succeeded) {
            LOG.warnf("pool %s: the runtime probe ended %s (%s)", pool.name(), result.status(), result.errorType());
            throw unavailable();
        }
        String line = result.stdout().strip().lines().reduce((a, b) -> b).orElse("");
        JsonNode probe;
        try {
            probe = JSON.readTree(line);
        } catch (java.io.IOException e) {
            LOG.warnf("pool %s: the runtime probe answered no JSON line", pool.name());
            throw unavailable();
        }
        if (probe == null || !probe.path("runtime").isTextual() || !probe.path("packages").isArray()) {
            throw unavailable();
        }
        List<Package> packages = new ArrayList<>();
        for (JsonNode entry : probe.get("packages")) {
            if (packages.size() < MAX_PACKAGES && entry.path(0).isTextual() && entry.path(1).isTextual()) {
                packages.add(new Package(entry.get(0).textValue(), entry.get(1).textValue()));
            }
        }
        return new Metadata(List.of(new Runtime(runtime, probe.get("runtime").textValue())), List.copyOf(packages),
                time(pool.createdAt()), time(Instant.now()));
    }

    private static PoolApiException unavailable() {
        return new PoolApiException(503, "MetadataUnavailable", "The pool's runtime could not be probed; retry later.");
    }

    private static String time(Instant instant) {
        return instant.truncatedTo(ChronoUnit.MILLIS).toString();
    }
}
