package io.sandstream.architecture;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The package-level dependency graph of the sources under a root (e.g. {@code src/main/java}), read
 * from the text: an arrow A → B when a file in package A imports (plainly, statically or with a
 * wildcard) or names by its qualified name a type of package B, both under {@code prefix}. Sub
 * packages are packages of their own ({@code sessions} and {@code sessions.local} are two nodes).
 * The cycles are the strongly connected components of more than one package (Tarjan).
 */
public final class PackageGraph {

    private static final Pattern PACKAGE = Pattern.compile("^\\s*package\\s+([\\w.]+)\\s*;", Pattern.MULTILINE);
    private static final Pattern IMPORT = Pattern.compile("^\\s*import\\s+(static\\s+)?([\\w.]+)(\\.\\*)?\\s*;", Pattern.MULTILINE);

    private final String prefix;
    private final SortedMap<String, SortedSet<String>> arrows = new TreeMap<>();

    private PackageGraph(String prefix) {
        this.prefix = prefix;
    }

    /** Reads every {@code .java} file under {@code root}; only packages starting with {@code prefix} are nodes. */
    public static PackageGraph read(Path root, String prefix) {
        PackageGraph graph = new PackageGraph(prefix);
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
                graph.add(Files.readString(file, StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return graph;
    }

    private void add(String source) {
        String code = withoutCommentsAndLiterals(source);
        Matcher declared = PACKAGE.matcher(code);
        if (!declared.find() || !inScope(declared.group(1))) {
            return;
        }
        String from = declared.group(1);
        SortedSet<String> to = arrows.computeIfAbsent(from, p -> new TreeSet<>());
        Matcher imports = IMPORT.matcher(code);
        int bodyStart = 0;
        while (imports.find()) {
            bodyStart = imports.end();
            String name = imports.group(2);
            boolean wildcard = imports.group(3) != null;
            boolean isStatic = imports.group(1) != null;
            // import a.b.C; import a.b.*; import static a.b.C.m; import static a.b.C.*;
            String pkg = wildcard && !isStatic ? name : packageOf(name);
            if (pkg != null && inScope(pkg)) {
                to.add(pkg);
            }
        }
        // Qualified names in the code itself (io.sandstream.x.Y without an import).
        Matcher qualified = Pattern.compile("(?<![\\w.])" + Pattern.quote(prefix) + "[\\w.]*").matcher(code);
        qualified.region(bodyStart, code.length());
        while (qualified.find()) {
            String pkg = packageOf(qualified.group());
            if (pkg != null && inScope(pkg)) {
                to.add(pkg);
            }
        }
        to.remove(from);
    }

    private boolean inScope(String pkg) {
        return pkg.equals(prefix) || pkg.startsWith(prefix + ".");
    }

    /** The package of a qualified name: the segments before the first one that starts upper case. */
    static String packageOf(String qualifiedName) {
        List<String> segments = new ArrayList<>();
        for (String segment : qualifiedName.split("\\.")) {
            if (segment.isEmpty() || Character.isUpperCase(segment.charAt(0))) {
                break;
            }
            segments.add(segment);
        }
        return segments.isEmpty() || segments.size() == qualifiedName.split("\\.").length ? null : String.join(".", segments);
    }

    /** The source with comments, string and char literals and text blocks blanked (line breaks kept). */
    static String withoutCommentsAndLiterals(String s) {
        StringBuilder out = new StringBuilder(s.length());
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (s.startsWith("//", i)) {
                while (i < s.length() && s.charAt(i) != '\n') {
                    i++;
                }
            } else if (s.startsWith("/*", i)) {
                int end = s.indexOf("*/", i + 2);
                end = end < 0 ? s.length() : end + 2;
                blank(s, i, end, out);
                i = end;
            } else if (s.startsWith("\"\"\"", i)) {
                int end = i + 3;
                while (end < s.length() && !(s.startsWith("\"\"\"", end) && s.charAt(end - 1) != '\\')) {
                    end++;
                }
                end = Math.min(s.length(), end + 3);
                blank(s, i, end, out);
                i = end;
            } else if (c == '"' || c == '\'') {
                int end = i + 1;
                while (end < s.length() && s.charAt(end) != c && s.charAt(end) != '\n') {
                    end += s.charAt(end) == '\\' ? 2 : 1;
                }
                end = Math.min(s.length(), end + 1);
                blank(s, i, end, out);
                i = end;
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }

    private static void blank(String s, int from, int to, StringBuilder out) {
        for (int i = from; i < to; i++) {
            out.append(s.charAt(i) == '\n' ? '\n' : ' ');
        }
    }

    /** The packages found (those with at least one source file, plus any imported one). */
    public SortedSet<String> packages() {
        SortedSet<String> all = new TreeSet<>(arrows.keySet());
        arrows.values().forEach(all::addAll);
        return all;
    }

    /** Package → the packages it imports (no self arrows). */
    public SortedMap<String, SortedSet<String>> arrows() {
        return Collections.unmodifiableSortedMap(arrows);
    }

    public int arrowCount() {
        return arrows.values().stream().mapToInt(Set::size).sum();
    }

    /** Pairs of packages that import each other, each pair once as "a <-> b" with a < b. */
    public SortedSet<String> mutualPairs() {
        SortedSet<String> pairs = new TreeSet<>();
        arrows.forEach((a, targets) -> {
            for (String b : targets) {
                if (a.compareTo(b) < 0 && arrows.getOrDefault(b, Collections.emptySortedSet()).contains(a)) {
                    pairs.add(shortName(a) + " <-> " + shortName(b));
                }
            }
        });
        return pairs;
    }

    /** The strongly connected components of more than one package, largest first. */
    public List<SortedSet<String>> cycles() {
        List<SortedSet<String>> components = new Tarjan().run();
        components.removeIf(c -> c.size() < 2);
        components.sort((x, y) -> y.size() != x.size() ? y.size() - x.size() : x.first().compareTo(y.first()));
        return components;
    }

    /** How many packages sit in some cycle. */
    public int packagesInCycles() {
        return cycles().stream().mapToInt(Set::size).sum();
    }

    /** The package without the prefix ("routing", "sessions.local"), for printing. */
    public String shortName(String pkg) {
        return pkg.equals(prefix) ? "(root)" : pkg.substring(prefix.length() + 1);
    }

    /** A printable summary: the figures, the cycles and the mutual pairs. */
    public String report() {
        StringBuilder out = new StringBuilder();
        List<SortedSet<String>> cycles = cycles();
        out.append(String.format("package graph of %s: %d packages, %d import arrows, %d mutual pairs, %d packages in %d cycle(s)%n",
                prefix, packages().size(), arrowCount(), mutualPairs().size(), packagesInCycles(), cycles.size()));
        for (SortedSet<String> cycle : cycles) {
            out.append("  cycle of ").append(cycle.size()).append(": ")
                    .append(String.join(", ", cycle.stream().map(this::shortName).toList())).append('\n');
        }
        SortedSet<String> outside = new TreeSet<>(packages());
        cycles.forEach(outside::removeAll);
        out.append("  outside cycles: ").append(String.join(", ", outside.stream().map(this::shortName).toList())).append('\n');
        out.append("  mutual pairs: ").append(String.join("; ", mutualPairs())).append('\n');
        return out.toString();
    }

    private final class Tarjan {
        private final Map<String, Integer> index = new HashMap<>();
        private final Map<String, Integer> low = new HashMap<>();
        private final Deque<String> stack = new ArrayDeque<>();
        private final Set<String> onStack = new TreeSet<>();
        private final List<SortedSet<String>> components = new ArrayList<>();
        private int next;

        List<SortedSet<String>> run() {
            for (String pkg : packages()) {
                if (!index.containsKey(pkg)) {
                    visit(pkg);
                }
            }
            return components;
        }

        // Recursive: the graph has tens of nodes.
        private void visit(String v) {
            index.put(v, next);
            low.put(v, next);
            next++;
            stack.push(v);
            onStack.add(v);
            for (String w : arrows.getOrDefault(v, Collections.emptySortedSet())) {
                if (!index.containsKey(w)) {
                    visit(w);
                    low.put(v, Math.min(low.get(v), low.get(w)));
                } else if (onStack.contains(w)) {
                    low.put(v, Math.min(low.get(v), index.get(w)));
                }
            }
            if (low.get(v).equals(index.get(v))) {
                SortedSet<String> component = new TreeSet<>();
                String w;
                do {
                    w = stack.pop();
                    onStack.remove(w);
                    component.add(w);
                } while (!w.equals(v));
                components.add(component);
            }
        }
    }
}
