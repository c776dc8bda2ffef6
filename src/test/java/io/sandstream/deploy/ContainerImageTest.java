package io.sandstream.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The images' privilege model (issue 16 point 2): no setuid or setgid file, CAP_SETUID/CAP_SETGID
 * only on {@code sandstream-setuid}, which only the service's group may run and which refuses
 * every uid outside the sandbox range; the documented run lines keep the container out of the
 * host's user namespace. No container engine runs here: the helper is compiled and run for real,
 * the Dockerfiles and docs/deployment.md are read.
 */
class ContainerImageTest {

    static final String HELPER = "/usr/local/libexec/sandstream-setuid";
    static final int SERVICE = 10001;

    @TempDir
    static Path temp;
    static Path helper;

    @BeforeAll
    static void build() throws Exception {
        helper = SetuidHelper.compile(temp);
    }

    record Run(int exit, String output) {
    }

    static Run run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Run(p.waitFor(), out);
    }

    static List<String> helperRunning(Path binary, String uid, String... command) {
        List<String> line = new ArrayList<>(List.of(binary.toString(), uid, "--"));
        line.addAll(List.of(command));
        return line;
    }

    @ParameterizedTest
    @ValueSource(strings = { "0", "1", "10001", "19999", "65536", "4294967295", "18446744073709551616", "-1", "+20000",
            " 20000", "20000x", "0x4e20", "" })
    void theHelperRefusesUidsOutsideTheSandboxRange(String uid) throws Exception {
        Path marker = temp.resolve("ran-" + Integer.toHexString(uid.hashCode()));
        Run result = run(helperRunning(helper, uid, "/usr/bin/touch", marker.toString()));
        assertEquals(65, result.exit(), result.output());
        assertTrue(result.output().contains("refused uid"), result.output());
        assertFalse(Files.exists(marker), "the command did not run");
    }

    @Test
    void theHelperRefusesAMissingSeparator() throws Exception {
        assertEquals(64, run(List.of(helper.toString(), "20000", "/usr/bin/id")).exit());
    }

    @ParameterizedTest
    @ValueSource(strings = { "20000", "65535" })
    void theHelperRunsTheCommandAsTheSandboxUidWithoutPrivileges(String uid) throws Exception {
        Run result = run(helperRunning(helper, uid, "/bin/sh", "-c",
                "id -u; id -g; id -G; grep -E '^(CapPrm|CapEff|CapAmb|NoNewPrivs)' /proc/self/status"));
        assertEquals(0, result.exit(), result.output());
        assertEquals(String.join("\n", uid, uid, uid, "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
                "CapAmb:\t0000000000000000", "NoNewPrivs:\t1", ""), result.output());
    }

    /**
     * As the image has it: the service's uid, a bounding set of SETUID and SETGID, and the helper
     * carrying them as file capabilities, mode 0750 for group 10001. From there: a sandbox uid yes,
     * root no; and a uid outside the group cannot run the helper at all.
     */
    @Test
    void withTheImagesFileCapabilitiesTheServiceUidReachesOnlySandboxUids() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to set file capabilities");
        Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path capped = temp.resolve("capped");
        Files.createDirectory(capped);
        Files.setPosixFilePermissions(capped, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path binary = Files.copy(helper, capped.resolve("sandstream-setuid"));
        Files.setAttribute(binary, "unix:gid", SERVICE);
        Files.setPosixFilePermissions(binary, PosixFilePermissions.fromString("rwxr-x---"));
        assertEquals(0, run(List.of("/usr/sbin/setcap", "cap_setuid,cap_setgid=ep", binary.toString())).exit());

        List<String> asService = List.of("/usr/bin/setpriv", "--reuid=" + SERVICE, "--regid=" + SERVICE, "--clear-groups",
                "--bounding-set=-all,+setuid,+setgid", "--inh-caps=-all");
        Run sandbox = run(concat(asService, helperRunning(binary, "20001", "/usr/bin/id", "-u")));
        assertEquals(new Run(0, "20001\n"), sandbox);
        Run root = run(concat(asService, helperRunning(binary, "0", "/usr/bin/id", "-u")));
        assertEquals(65, root.exit(), root.output());
        Run service = run(concat(asService, List.of("/usr/bin/id", "-u")));
        assertEquals("10001\n", service.output(), "the test runs as the service's uid");

        // Through a shell: setpriv itself still holds root's capabilities when it executes its command.
        Run stranger = run(concat(List.of("/usr/bin/setpriv", "--reuid=" + (SERVICE + 1), "--regid=" + (SERVICE + 1),
                "--clear-groups", "/bin/sh", "-c", "exec \"$@\"", "sh"), helperRunning(binary, "20001", "/usr/bin/id", "-u")));
        assertNotEquals(0, stranger.exit(), stranger.output());
        assertFalse(stranger.output().contains("20001"), stranger.output());
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    @ParameterizedTest
    @ValueSource(strings = { "src/main/docker/Dockerfile.jvm", "src/main/docker/Dockerfile.native" })
    void theImagesHaveNoSetuidFilesAndCapabilitiesOnlyOnTheHelper(String file) throws Exception {
        String dockerfile = Files.readString(Path.of(file));
        List<String> setcaps = Pattern.compile("setcap\\s+(\\S+)\\s+(\\S+)").matcher(dockerfile).results()
                .map(m -> m.group(1) + " " + m.group(2)).toList();
        assertEquals(List.of("cap_setuid,cap_setgid=ep " + HELPER), setcaps, "capabilities go to the helper only");
        assertFalse(dockerfile.contains("setcap cap_setuid,cap_setgid=ep /usr/bin/setpriv"));
        // Built from this repository's source, with the flags the tests build it with.
        assertTrue(dockerfile.contains("COPY src/main/docker/sandstream-setuid.c /src/"), file);
        assertTrue(dockerfile.contains("gcc " + String.join(" ", SetuidHelper.FLAGS) + " -o /sandstream-setuid"), file);
        assertTrue(dockerfile.contains("COPY --from=helper /sandstream-setuid " + HELPER), file);
        // Owned by root, run only by the service's group; caps set after chown (chown clears them).
        String chown = "chown root:" + SERVICE + " " + HELPER + " && chmod 0750 " + HELPER;
        assertTrue(dockerfile.contains(chown), file);
        assertTrue(dockerfile.indexOf(chown) < dockerfile.indexOf("setcap "), "chown before setcap");
        // No setuid/setgid bit survives the last package change, and the build checks it.
        int strip = dockerfile.indexOf("find / -xdev -perm /6000 -type f -exec chmod a-s {} +");
        assertTrue(strip > dockerfile.lastIndexOf("apt-get purge"), "bits stripped after the last package change");
        assertTrue(dockerfile.contains("test -z \"$(find / -xdev -perm /6000 -type f)\""), file);
        assertTrue(dockerfile.contains("SANDSTREAM_SESSIONS_UID_HELPER=" + HELPER), "the service uses the helper");
        Matcher firstUid = Pattern.compile("SANDSTREAM_SESSIONS_FIRST_UID=(\\d+)").matcher(dockerfile);
        assertTrue(firstUid.find());
        int first = Integer.parseInt(firstUid.group(1));
        String source = Files.readString(SetuidHelper.SOURCE);
        assertTrue(source.contains("#define SANDBOX_UID_MIN " + first), "the helper's range starts at the image's first uid");
        assertTrue(first + 4096 - 1 <= 65535 && source.contains("#define SANDBOX_UID_MAX 65535"),
                "a whole uid block fits in the helper's range and in a user namespace of 65536 uids");
    }

    /**
     * Every documented run line (docs/deployment.md "Container", the Dockerfile headers) keeps the container in
     * a user namespace of its own: Podman with {@code --userns=auto}, Docker only behind a guard
     * that requires rootless mode or userns-remap.
     */
    @Test
    void documentedRunLinesUseAUserNamespace() throws Exception {
        List<String> runs = new ArrayList<>();
        for (String file : List.of("docs/deployment.md", "src/main/docker/Dockerfile.jvm")) {
            String text = Files.readString(Path.of(file)).replaceAll("\\\\\\n\\s*(#\\s*)?", " ");
            Matcher m = Pattern.compile("(?m)^.*\\b(docker|podman) run\\b.*$").matcher(text);
            while (m.find()) {
                runs.add(m.group());
            }
        }
        assertTrue(runs.stream().anyMatch(r -> r.contains("podman run")), runs.toString());
        assertTrue(runs.stream().anyMatch(r -> r.contains("docker run")), runs.toString());
        for (String line : runs) {
            if (line.contains("podman run")) {
                assertTrue(line.contains("--userns=auto"), line);
            } else {
                assertTrue(line.matches(".*docker info -f '\\{\\{\\.SecurityOptions}}' \\| grep -qE 'rootless\\|userns' && docker run .*"),
                        line);
            }
            assertFalse(line.contains("--userns=host") || line.contains("--privileged"), line);
            assertTrue(line.contains("--cap-drop ALL --cap-add SETUID --cap-add SETGID"), line);
        }
    }

    /**
     * The JVM image starts from JDK 25's AOT cache (issue 23 point 5), made in its own build by a
     * training run of its own JVM on the very files it ships: the cache is refused by any other
     * JVM or class path, and a cache made elsewhere would silently not be used.
     */
    @Test
    void theJvmImageStartsFromAnAotCacheItsOwnBuildTrained() throws Exception {
        String dockerfile = Files.readString(Path.of("src/main/docker/Dockerfile.jvm"));
        // One line per instruction: continuation lines joined.
        String finalStage = dockerfile.substring(dockerfile.lastIndexOf("\nFROM ")).replace("\\\n", " ");
        Matcher training = Pattern.compile("(?m)^RUN .*-XX:AOTCacheOutput=app\\.aot.*$").matcher(finalStage);
        assertTrue(training.find(), "a training run in the final stage writes app.aot");
        String run = training.group();
        assertTrue(run.contains("java -XX:AOTCacheOutput=app.aot -jar quarkus-run.jar"), "the image's own java, on the shipped jar: " + run);
        assertTrue(run.contains("/q/health/ready") && run.contains("test -s app.aot"), "trained to readiness, and the build fails without a cache");
        assertTrue(finalStage.indexOf("COPY target/quarkus-app/ /deployments/") < training.start(), "trained on the files it ships");
        assertTrue(training.start() < finalStage.indexOf("\nUSER "), "made as root, so the service cannot rewrite it");
        assertTrue(finalStage.contains("ENTRYPOINT [\"java\", \"-XX:AOTCache=app.aot\", \"-jar\", \"quarkus-run.jar\"]"), finalStage);
        assertEquals(1, Pattern.compile("(?m)^FROM \\$\\{JRE_IMAGE}").matcher(dockerfile).results().count(),
                "one JVM for training and running");
        // The shipped form is the aot-jar: the fast-jar's own class loader keeps the application's classes out of the cache.
        assertTrue(Files.readString(Path.of("src/main/resources/application.properties")).contains("\nquarkus.package.jar.type=aot-jar\n"),
                "target/quarkus-app is the aot-jar");
        // sqlite-jdbc's native library is taken out of its jar at build time, before the training run, not on every start.
        int extracted = finalStage.indexOf("open(\"native/libsqlitejdbc.so\", \"wb\")");
        assertTrue(extracted > finalStage.indexOf("COPY target/quarkus-app/ /deployments/") && extracted < training.start(), finalStage);
        assertTrue(finalStage.contains("-Dorg.sqlite.lib.path=/deployments/native -Dorg.sqlite.lib.name=libsqlitejdbc.so"), finalStage);
    }
}
