package io.sandstream.sessions.local;

import static io.sandstream.sessions.local.PoolFixture.WAIT;
import static io.sandstream.sessions.local.PoolFixture.key;
import static io.sandstream.sessions.local.PoolFixture.updates;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.sandstream.SandboxProcesses;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionResult.Status;
import io.sandstream.sessions.ExecutionUpdate;

/**
 * The Python data stack (Debian's packages) in real sandboxes with the default limits: every
 * package imports in a warm session, matplotlib draws on the read-only root, numeric libraries
 * keep to the CPU quota, and the figures docs/sandboxes.md quotes.
 */
class PythonDataStackTest {

    /** Import name → what the README lists; one execution imports them all. */
    static final List<String> MODULES = List.of("numpy", "pandas", "matplotlib", "matplotlib.pyplot", "scipy", "scipy.stats",
            "sklearn", "sklearn.linear_model", "seaborn", "statsmodels.api", "sympy", "networkx", "PIL.Image", "openpyxl",
            "xlsxwriter", "docx", "reportlab", "bs4", "lxml.etree", "tabulate", "mpl_toolkits.mplot3d");
    static final byte[] PNG_SIGNATURE = { (byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

    @TempDir
    static Path dir;
    static PoolFixture pools;

    @BeforeAll
    static void start() {
        // The pools' default limits (512 MiB, one core, 64 pids): the stack must fit them as shipped.
        pools = new PoolFixture(dir, Map.of("sandstream.sessions.first-uid", "280000"));
    }

    @AfterAll
    static void stop() {
        pools.close();
    }

    /** Runs code in a session that starts on a warm sandbox; fails if the sandbox was not a warm one. */
    static ExecutionResult inWarmSession(String session, String code) throws InterruptedException {
        assertTrue(SandboxProcesses.waitFor(() -> pools.python.stats().ready() >= 1), "a warm sandbox is ready");
        List<ExecutionUpdate> all = updates(pools.python, session, code, 180);
        assertEquals(new ExecutionUpdate.Allocated("warm"), all.get(0), all.toString());
        return ((ExecutionUpdate.Completed) all.get(all.size() - 1)).result();
    }

    @Test
    void everyPackageImportsInAWarmSession() throws Exception {
        ExecutionResult result = inWarmSession("stack-imports", "import importlib\n"
                + "loaded = {}\n"
                + "for name in " + pythonList(MODULES) + ":\n"
                + "    module = importlib.import_module(name)\n"
                + "    loaded[name] = str(getattr(module, '__version__', 'imported'))\n"
                + "loaded");
        assertEquals(Status.Succeeded, result.status(), result.toString());
        JsonNode loaded = result.result();
        for (String module : MODULES) {
            assertTrue(loaded.path(module).isTextual(), module + " imported: " + loaded);
        }
        assertTrue(loaded.path("pandas").textValue().matches("\\d+\\.\\d+.*"), loaded.toString());
        // No warning about an unwritable config or cache directory, no fontconfig complaint from a
        // font scan: matplotlib found its directory and the shared font list.
        assertEquals("", result.stderr(), result.toString());
    }

    /**
     * The sandboxes' interpreter runs without site ({@code -S}): no code from the host's .pth files
     * (this machine has some that import modules at every interpreter start), while the site
     * directories are on sys.path in site's order and site's builtins are there.
     */
    @Test
    void theHostsPthFilesRunNoCodeInTheSandbox() throws Exception {
        // On the host, the same interpreter: its site directories, and what site's .pth files import.
        JsonNode host = new ObjectMapper().readTree(hostPython("import json, site, sys\n"
                + "before = set(sys.modules)\n"
                + "site.addsitepackages(set())\n"
                + "print(json.dumps([[p for p in sys.path if p.endswith('-packages')], sorted(set(sys.modules) - before)]))"));
        ExecutionResult result = inWarmSession("stack-no-site", "import sys\n"
                + "[sys.flags.no_site, [p for p in sys.path if p.endswith('-packages')], sorted(sys.modules),\n"
                + " all(callable(f) for f in (exit, quit, help))]");
        assertEquals(Status.Succeeded, result.status(), result.toString());
        JsonNode r = result.result();
        assertEquals(1, r.get(0).asInt(), "python runs with -S: " + r);
        assertEquals(host.get(0), r.get(1), "the site directories, in site's order");
        List<String> pthImports = new ArrayList<>();
        host.get(1).forEach(m -> pthImports.add(m.textValue()));
        List<String> loaded = new ArrayList<>();
        r.get(2).forEach(m -> loaded.add(m.textValue()));
        List<String> leaked = pthImports.stream().filter(loaded::contains).toList();
        assertEquals(List.of(), leaked, "imported by the host's .pth files (" + pthImports + ") yet loaded in the sandbox");
        assertTrue(r.get(3).asBoolean(), "exit(), quit() and help() as site defines them");
    }

    private static String hostPython(String code) throws Exception {
        Process p = new ProcessBuilder(pools.config.sessions().python(), "-I", "-S", "-c", code).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    @Test
    void aFigureSavedToMntDataIsAPngOnTheReadOnlyRoot() throws Exception {
        ExecutionResult result = inWarmSession("stack-figure", "import matplotlib, os, glob\n"
                + "import matplotlib.pyplot as plt\n"
                + "fig, ax = plt.subplots(figsize=(4, 3), dpi=100)\n"
                + "ax.plot([1, 2, 3], [2, 1, 3]); ax.set_title('revenue by month')\n"
                + "fig.savefig('/mnt/data/fig.png')\n"
                + "cache = glob.glob('/tmp/matplotlib/fontlist-v*.json')\n"
                + "root_writable = os.access('/', os.W_OK) or os.access('/usr', os.W_OK)\n"
                + "[matplotlib.get_backend(), matplotlib.get_cachedir(), sorted(os.listdir('/mnt/data')),\n"
                + " len(cache), all(not os.access(p, os.W_OK) for p in cache), root_writable]");
        assertEquals(Status.Succeeded, result.status(), result.toString());
        JsonNode r = result.result();
        assertEquals("agg", r.get(0).textValue().toLowerCase(), r.toString());
        assertEquals("/tmp/matplotlib", r.get(1).textValue(), "matplotlib's cache is in the session's /tmp");
        // Only the figure among the session's files: no .config/.cache directories from matplotlib or fontconfig.
        assertEquals("[\"fig.png\"]", r.get(2).toString(), r.toString());
        assertEquals(1, r.get(3).asInt(), "the shared font list is there: " + r);
        assertTrue(r.get(4).asBoolean(), "the shared font list is read-only: " + r);
        assertEquals(false, r.get(5).asBoolean(), "the root stays read-only: " + r);

        byte[] png = pools.python.downloadFile(key("stack-figure"), "fig.png").await().atMost(WAIT);
        assertArrayEquals(PNG_SIGNATURE, Arrays.copyOf(png, 8), "a PNG signature");
        ByteBuffer header = ByteBuffer.wrap(png, 8, 25);
        header.getInt();
        assertEquals("IHDR", new String(png, 12, 4), "the first chunk is the header");
        header.getInt();
        assertEquals(400, header.getInt(), "width: 4 in at 100 dpi");
        assertEquals(300, header.getInt(), "height: 3 in at 100 dpi");
    }

    @Test
    void numericLibrariesStartNoMoreThreadsThanTheCpuQuotaGrants() throws Exception {
        // One core by default: OpenBLAS, left alone, starts a thread per host core (2 here, 64 on a big host).
        assertEquals(1, SandboxLauncher.numericThreads(pools.config.pools().get("python").limits()));
        // The runner's own threads are there before: what counts is what the libraries add.
        ExecutionResult result = inWarmSession("stack-threads", "import os\n"
                + "before = len(os.listdir('/proc/self/task'))\n"
                + "import numpy, scipy.linalg\n"
                + "a = numpy.random.default_rng(1).random((400, 400))\n"
                + "b = scipy.linalg.inv(a @ a.T + numpy.eye(400))\n"
                + "[len(os.listdir('/proc/self/task')) - before, os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS']]");
        assertEquals(Status.Succeeded, result.status(), result.toString());
        assertEquals("[0,\"1\",\"1\"]", result.result().toString(), "no thread added");
    }

    /**
     * The figures in docs/sandboxes.md: a warm session's first imports, and memory. The times are
     * printed only (timings belong in benchmarks); the memory is held to bounds that would catch a
     * regression of an order of magnitude.
     */
    @Test
    void importTimesAndMemoryFitTheDefaults() throws Exception {
        ExecutionResult idle = inWarmSession("stack-idle", "int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])");
        assertEquals(Status.Succeeded, idle.status(), idle.toString());
        ExecutionResult result = inWarmSession("stack-times", "import time, resource\n"
                + "def rss():\n"
                + "    return int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) // 1024\n"
                + "t0 = time.perf_counter(); c0 = time.process_time()\n"
                + "import pandas\n"
                + "t1 = time.perf_counter(); c1 = time.process_time(); after_pandas = rss()\n"
                + "import matplotlib.pyplot\n"
                + "t2 = time.perf_counter(); c2 = time.process_time()\n"
                + "import sklearn.linear_model, sklearn.ensemble\n"
                + "{'pandas_ms': round((t1 - t0) * 1000), 'pandas_cpu_ms': round((c1 - c0) * 1000),\n"
                + " 'pyplot_ms': round((t2 - t1) * 1000), 'pyplot_cpu_ms': round((c2 - c1) * 1000),\n"
                + " 'rss_pandas_mib': after_pandas, 'rss_pandas_pyplot_sklearn_mib': rss()}");
        assertEquals(Status.Succeeded, result.status(), result.toString());
        JsonNode f = result.result();
        System.out.printf("python data stack, warm session: idle runner RSS %d MiB; first import pandas %d ms (%d ms CPU),"
                + " then import matplotlib.pyplot %d ms (%d ms CPU); RSS after pandas %d MiB, after pandas+pyplot+sklearn %d MiB%n",
                idle.result().asLong() / 1024, f.get("pandas_ms").asLong(), f.get("pandas_cpu_ms").asLong(),
                f.get("pyplot_ms").asLong(), f.get("pyplot_cpu_ms").asLong(), f.get("rss_pandas_mib").asLong(),
                f.get("rss_pandas_pyplot_sklearn_mib").asLong());
        assertTrue(f.get("rss_pandas_pyplot_sklearn_mib").asLong() < 512 / 2, "well inside the default 512 MiB: " + f);
        assertTrue(idle.result().asLong() < 32 * 1024, "an idle runner stays small: " + idle.result());
    }

    static String pythonList(List<String> names) {
        return names.stream().map(n -> "'" + n + "'").reduce((a, b) -> a + ", " + b).map(s -> "[" + s + "]").orElse("[]");
    }
}
