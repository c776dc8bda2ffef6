package io.sandstream.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No package-level import cycle (issue 18): prints the package-level import graph of
 * src/main/java and fails when any package sits inside an import cycle. The packages follow the
 * flow (model and config at the bottom, the resources and the wiring on top); an import that
 * closes a cycle means a type is in the wrong package.
 */
class PackageCyclesTest {

    /**
     * The most packages allowed inside import cycles: none. Before the structural step of 2026-12,
     * 16 of 19 packages sat in one cycle (19 mutual pairs); after it, 0 of 27.
     */
    static final int MAX_PACKAGES_IN_CYCLES = 0;

    static final String PREFIX = "io.sandstream";

    @Test
    void noPackageIsInAnImportCycle() {
        PackageGraph graph = PackageGraph.read(Path.of("src/main/java"), PREFIX);
        System.out.print(graph.report());
        assertTrue(graph.packages().size() > 1, "no packages read from src/main/java (working directory?)");
        int inCycles = graph.packagesInCycles();
        assertTrue(inCycles <= MAX_PACKAGES_IN_CYCLES,
                inCycles + " packages are inside import cycles, more than the ratchet's " + MAX_PACKAGES_IN_CYCLES
                        + ": a new import closed a cycle. Cycles: " + graph.cycles());
    }

    /** The meter itself, on a graph small enough to check by hand. */
    @Test
    void meterFindsCyclesPairsAndArrows(@TempDir Path root) throws IOException {
        source(root, "a", "import x.b.B;\nimport static x.c.C.run;\nimport java.util.List;\n");
        source(root, "b", "import x.a.A;\n// import x.d.D; a comment is no arrow\n");
        source(root, "c", "import x.b.*;\nclass Q { Object o = new x.a.A(); String s = \"x.d.D\"; }\n");
        source(root, "d", "import x.a.A;\n");
        source(root, "e", "");
        PackageGraph graph = PackageGraph.read(root, "x");

        assertEquals(Set.of("x.a", "x.b", "x.c", "x.d", "x.e"), graph.packages());
        // a→b, a→c, b→a, c→b, c→a, d→a
        assertEquals(6, graph.arrowCount());
        assertEquals(Set.of("a <-> b", "a <-> c"), graph.mutualPairs());
        assertEquals(List.of(Set.of("x.a", "x.b", "x.c")), graph.cycles());
        assertEquals(3, graph.packagesInCycles());
    }

    private static void source(Path root, String pkg, String body) throws IOException {
        Path dir = Files.createDirectories(root.resolve("x").resolve(pkg));
        String type = pkg.toUpperCase();
        Files.writeString(dir.resolve(type + ".java"), "package x." + pkg + ";\n\n" + body + "\npublic class " + type + " {}\n");
    }
}
