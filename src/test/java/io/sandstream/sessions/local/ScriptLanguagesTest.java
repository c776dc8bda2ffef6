package io.sandstream.sessions.local;

import static io.sandstream.sessions.local.PoolFixture.WAIT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import io.sandstream.model.ExecuteRequest.InputFile;
import io.sandstream.sessions.ExecutionResult;
import io.sandstream.sessions.ExecutionResult.LimitHit;
import io.sandstream.sessions.ExecutionResult.Status;
import io.sandstream.sessions.ExecutionSpec;
import io.sandstream.sessions.ExecutionUpdate;
import io.sandstream.tenancy.TenantQuotas;

/**
 * The script runner's languages on real sandboxes: one warm pool per language, shared by every
 * case; each case runs in the language's one session, so it also shows the session survives.
 */
class ScriptLanguagesTest {

    /** Per language: hello, error (and what stderr says), endless loop, 400 MiB allocation, in.txt → OUT.TXT, live output. */
    record Case(String hello, String error, String errorSays, String loop, String memory, String files, String live) {
    }

    static final Map<String, Case> CASES = new LinkedHashMap<>();

    static {
        CASES.put("bash", new Case("echo hello", "nosuchcommand", "command not found", "while :; do :; done",
                "a=$(head -c 400000000 /dev/zero | tr '\\0' x); echo ${#a}", "tr a-z A-Z < in.txt > out.txt",
                "echo first; sleep 1.5; echo second"));
        CASES.put("ruby", new Case("puts 'hello'", "raise 'boom here'", "boom here", "loop {}",
                "s = 'x' * 400_000_000; puts s.size", "File.write('out.txt', File.read('in.txt').upcase)",
                "$stdout.sync = true\nputs 'first'\nsleep 1.5\nputs 'second'"));
        CASES.put("c", new Case("#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }",
                "int main(void) { return undeclared_thing; }", "undeclared_thing",
                "int main(void) { volatile int x = 0; for (;;) x++; }",
                "#include <stdlib.h>\n#include <string.h>\nint main(void) { char *volatile p = malloc(400 << 20); memset(p, 1, 400 << 20); return p[7] - 1; }",
                "#include <stdio.h>\n#include <ctype.h>\nint main(void) { FILE *i = fopen(\"in.txt\", \"r\"), *o = fopen(\"out.txt\", \"w\");"
                        + " int c; while ((c = fgetc(i)) != EOF) fputc(toupper(c), o); return fclose(o); }",
                "#include <stdio.h>\n#include <unistd.h>\nint main(void) { puts(\"first\"); fflush(stdout); usleep(1500000); puts(\"second\"); return 0; }"));
        CASES.put("cpp", new Case("#include <iostream>\nint main() { std::cout << \"hello\" << std::endl; }",
                "int main() { return undeclared_thing; }", "undeclared_thing",
                "int main() { volatile int x = 0; for (;;) x++; }",
                "#include <cstring>\nint main() { char *volatile p = new char[400 << 20]; std::memset(p, 1, 400 << 20); return p[7] - 1; }",
                "#include <fstream>\n#include <string>\n#include <cctype>\nint main() { std::ifstream i(\"in.txt\"); std::string s;"
                        + " i >> s; for (auto &c : s) c = std::toupper(c); std::ofstream(\"out.txt\") << s; }",
                "#include <iostream>\n#include <thread>\n#include <chrono>\nint main() { std::cout << \"first\" << std::endl;"
                        + " std::this_thread::sleep_for(std::chrono::milliseconds(1500)); std::cout << \"second\" << std::endl; }"));
        CASES.put("go", new Case("package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"hello\") }",
                "package main\nfunc main() { unusedThing := 1 }", "unusedThing", "package main\nfunc main() { for {} }",
                "package main\nfunc main() { b := make([]byte, 400<<20); for i := range b { b[i] = 1 }; println(len(b)) }",
                "package main\nimport (\"os\"; \"strings\")\nfunc main() { b, _ := os.ReadFile(\"in.txt\");"
                        + " os.WriteFile(\"out.txt\", []byte(strings.ToUpper(string(b))), 0644) }",
                "package main\nimport (\"fmt\"; \"time\")\nfunc main() { fmt.Println(\"first\"); time.Sleep(1500 * time.Millisecond); fmt.Println(\"second\") }"));
        CASES.put("java", new Case("class Main { public static void main(String[] a) { System.out.println(\"hello\"); } }",
                "class Main { public static void main(String[] a) { int wrongType = \"s\"; } }", "incompatible types",
                "class Main { public static void main(String[] a) { while (true) { } } }",
                "class Main { public static void main(String[] a) { byte[] b = new byte[400 << 20]; System.out.println(b.length); } }",
                "import java.nio.file.*;\nclass Main { public static void main(String[] a) throws Exception {"
                        + " Files.writeString(Path.of(\"out.txt\"), Files.readString(Path.of(\"in.txt\")).toUpperCase()); } }",
                "class Main { public static void main(String[] a) throws Exception { System.out.println(\"first\");"
                        + " Thread.sleep(1500); System.out.println(\"second\"); } }"));
        CASES.put("typescript", new Case("const greeting: string = 'hello';\nconsole.log(greeting);",
                "const n: number = 'not a number';", "TS2322", "while (true) { }",
                "const a: number[][] = [];\nfor (;;) a.push(new Array(1e6).fill(1));",
                "import * as fs from 'fs';\nfs.writeFileSync('out.txt', fs.readFileSync('in.txt', 'utf8').toUpperCase());",
                "console.log('first');\nsetTimeout(() => console.log('second'), 1500);"));
    }

    @TempDir
    static Path dir;
    static PoolFixture fixture;
    static final Map<String, LocalSessionPool> POOLS = new HashMap<>();

    @BeforeAll
    static void start() {
        Map<String, String> properties = new HashMap<>(Map.of(
                "sandstream.sessions.first-uid", "270000",
                "sandstream.pools.python.ready-sessions", "0",
                "sandstream.pools.javascript.ready-sessions", "0"));
        for (String language : CASES.keySet()) {
            properties.put("sandstream.pools." + language + ".language", language);
            properties.put("sandstream.pools." + language + ".ready-sessions", "1");
            properties.put("sandstream.pools." + language + ".limits.memory-mib", "256");
            properties.put("sandstream.pools." + language + ".limits.cpu-seconds", "20");
        }
        fixture = new PoolFixture(dir, properties);
        TenantQuotas quotas = new TenantQuotas(fixture.config, fixture.registry);
        for (String language : CASES.keySet()) {
            LocalSessionPool pool = new LocalSessionPool(language, fixture.config.pools().get(language), fixture.launcher,
                    fixture.config.sessions().interruptGrace(), fixture.workers, fixture.timers, fixture.registry, quotas);
            pool.startMaintenance();
            POOLS.put(language, pool);
        }
    }

    @AfterAll
    static void stop() {
        POOLS.values().forEach(LocalSessionPool::shutdown);
        fixture.close();
    }

    private static Stream<DynamicTest> each(Function<String, Runnable> test) {
        return CASES.keySet().stream().map(language -> dynamicTest(language, () -> test.apply(language).run()));
    }

    private static ExecutionResult run(String language, String code, int timeout, List<InputFile> files) {
        return POOLS.get(language).run(Optional.of(PoolFixture.key("session-" + language)), new ExecutionSpec(code, timeout, files))
                .await().atMost(WAIT);
    }

    private static ExecutionResult run(String language, String code) {
        return run(language, code, 30, List.of());
    }

    @TestFactory
    Stream<DynamicTest> helloWorld() {
        return each(language -> () -> {
            ExecutionResult result = run(language, CASES.get(language).hello());
            assertEquals(Status.Succeeded, result.status(), result.toString());
            assertEquals("hello\n", result.stdout(), result.toString());
        });
    }

    @TestFactory
    Stream<DynamicTest> aCompileOrRuntimeErrorFailsWithTheMessageOnStderr() {
        return each(language -> () -> {
            ExecutionResult result = run(language, CASES.get(language).error());
            assertEquals(Status.Failed, result.status(), result.toString());
            assertTrue(result.stderr().contains(CASES.get(language).errorSays()), result.toString());
            assertEquals(null, result.limitHit(), result.toString());
            assertEquals(Status.Succeeded, run(language, CASES.get(language).hello()).status(), "the session goes on");
        });
    }

    @TestFactory
    Stream<DynamicTest> theWallTimeLimitStopsTheProgram() {
        return each(language -> () -> {
            ExecutionResult result = run(language, CASES.get(language).loop(), 3, List.of());
            assertEquals(Status.TimedOut, result.status(), result.toString());
            assertEquals(LimitHit.wall, result.limitHit(), result.toString());
            ExecutionResult after = run(language, CASES.get(language).hello());
            assertEquals("hello\n", after.stdout(), "the session survives its program's interruption: " + after);
        });
    }

    @TestFactory
    Stream<DynamicTest> theMemoryLimitHolds() {
        return each(language -> () -> {
            ExecutionResult result = run(language, CASES.get(language).memory());
            assertEquals(Status.Failed, result.status(), result.toString());
            assertEquals(LimitHit.memory, result.limitHit(), result.toString());
            assertEquals(Status.Succeeded, run(language, CASES.get(language).hello()).status(), "the session goes on");
        });
    }

    @TestFactory
    Stream<DynamicTest> filesGoInAndOutThroughMntData() {
        return each(language -> () -> {
            ExecutionResult result = run(language, CASES.get(language).files(), 30,
                    List.of(new InputFile("in.txt", "shout".getBytes(StandardCharsets.UTF_8))));
            assertEquals(Status.Succeeded, result.status(), result.toString());
            byte[] out = POOLS.get(language).downloadFile(PoolFixture.key("session-" + language), "out.txt").await().atMost(WAIT);
            assertEquals("SHOUT", new String(out, StandardCharsets.UTF_8).strip());
        });
    }

    @TestFactory
    Stream<DynamicTest> outputArrivesWhileTheProgramRuns() {
        return each(language -> () -> {
            List<long[]> arrivals = new java.util.concurrent.CopyOnWriteArrayList<>();
            List<ExecutionUpdate> updates = POOLS.get(language)
                    .execute(Optional.of(PoolFixture.key("session-" + language)), new ExecutionSpec(CASES.get(language).live(), 30, List.of()))
                    .onItem().invoke(u -> arrivals.add(new long[] { System.nanoTime(),
                            u instanceof ExecutionUpdate.Output o && new String(o.bytes(), StandardCharsets.UTF_8).contains("first") ? 1 : 0 }))
                    .collect().asList().await().atMost(WAIT);
            assertTrue(updates.get(updates.size() - 1) instanceof ExecutionUpdate.Completed, updates.toString());
            long first = arrivals.stream().filter(a -> a[1] == 1).mapToLong(a -> a[0]).findFirst().orElseThrow();
            long end = arrivals.get(arrivals.size() - 1)[0];
            assertTrue(end - first >= 1_000_000_000L, "'first' arrived " + (end - first) / 1_000_000 + " ms before the end");
        });
    }
}
