package io.sandstream.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import io.quarkus.test.junit.QuarkusTest;

/**
 * The web console in a real headless Chromium driven by npm {@code playwright-core}
 * ({@code src/test/console/console-e2e.cjs}, one scenario per test) against this service with its
 * real sandboxes. Chromium and playwright-core are installed by {@code .ci/setup}; when either is
 * missing these tests fail, they never skip. The last one writes {@code target/console-e2e/console.png},
 * the screenshot the README shows as {@code docs/console.png}.
 */
@Tag("browser")
@QuarkusTest
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleBrowserTest {

    static final Path SCRIPT = Path.of("src/test/console/console-e2e.cjs");
    static final Path OUT = Path.of("target/console-e2e");
    private static final String KEY = "test-reader";
    private static final long SCENARIO_TIMEOUT_SECONDS = 240;

    @ConfigProperty(name = "quarkus.http.test-port")
    int port;

    @Test
    @Order(1)
    void typeRunSeeLiveOutputThenTheResult() {
        scenario("run");
    }

    @Test
    @Order(2)
    void aStatefulSessionAcrossTwoRuns() {
        scenario("session");
    }

    @Test
    @Order(3)
    void uploadUseDownloadAndDeleteSessionFiles() {
        scenario("files");
    }

    @Test
    @Order(4)
    void theDashboardMovesWhenWorkRuns() {
        scenario("dashboard");
    }

    @Test
    @Order(5)
    void theKeyStaysInTheTabAndEveryCallCarriesIt() {
        scenario("key");
    }

    @Test
    @Order(6)
    void screenshot() {
        scenario("screenshot");
        assertTrue(Files.isRegularFile(OUT.resolve("console.png")));
    }

    private void scenario(String name) {
        Path chromium = chromium();
        Path playwright = playwrightCore();
        try {
            Files.createDirectories(OUT);
            Path log = OUT.resolve(name + ".log");
            ProcessBuilder builder = new ProcessBuilder(List.of("node", SCRIPT.toString(), name,
                    "http://127.0.0.1:" + port, KEY, OUT.toString()))
                    .redirectErrorStream(true).redirectOutput(log.toFile());
            builder.environment().put("PLAYWRIGHT_CORE", playwright.toString());
            builder.environment().put("CHROMIUM", chromium.toString());
            Process node = builder.start();
            boolean ended = node.waitFor(SCENARIO_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            if (!ended) {
                node.descendants().forEach(ProcessHandle::destroyForcibly);
                node.destroyForcibly();
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            System.out.println("console-e2e " + name + ":\n" + output);
            assertTrue(ended, "scenario " + name + " did not end in " + SCENARIO_TIMEOUT_SECONDS + " s:\n" + output);
            assertEquals(0, node.exitValue(), "scenario " + name + " failed:\n" + output);
        } catch (IOException e) {
            fail("could not run node " + SCRIPT + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(e);
        }
    }

    /** Debian's chromium, or SANDSTREAM_CHROMIUM; missing is a failure: CI installs it. */
    static Path chromium() {
        String configured = System.getenv("SANDSTREAM_CHROMIUM");
        Path browser = Path.of(configured != null && !configured.isBlank() ? configured : "/usr/bin/chromium");
        if (!Files.isExecutable(browser)) {
            fail(browser + " is missing: run .ci/setup (installs Debian's chromium)");
        }
        return browser;
    }

    /** playwright-core in the tools directory (SANDSTREAM_TOOLS_DIR, default ~/.cache/sandstream-tools). */
    static Path playwrightCore() {
        String tools = System.getenv("SANDSTREAM_TOOLS_DIR");
        Path dir = tools != null && !tools.isBlank() ? Path.of(tools)
                : Path.of(System.getProperty("user.home"), ".cache", "sandstream-tools");
        Path module = dir.resolve("node_modules/playwright-core").toAbsolutePath();
        if (!Files.isRegularFile(module.resolve("package.json"))) {
            fail(module + " is missing: run .ci/setup (installs playwright-core into the tools directory)");
        }
        return module;
    }
}
