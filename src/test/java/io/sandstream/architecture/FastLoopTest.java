package io.sandstream.architecture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/**
 * The fast loop ({@code ./mvnw -B verify -Pfast}) leaves out the slow classes by their JUnit tags,
 * and the tagged {@code @QuarkusTest} classes also by file name (Quarkus builds an application for
 * every {@code @QuarkusTest} class handed to JUnit, excluded by tag or not). The two lists in
 * pom.xml's {@code fast} profile must agree with the tags in the sources.
 */
class FastLoopTest {

    @Test
    void taggedQuarkusTestsAreExcludedByNameToo() throws IOException {
        String pom = Files.readString(Path.of("pom.xml"));
        Matcher profile = Pattern.compile("<id>fast</id>(.*?)</profile>", Pattern.DOTALL).matcher(pom);
        assertFalse(!profile.find(), "pom.xml has no fast profile");
        Matcher groups = Pattern.compile("<excludedGroups>([^<]*)</excludedGroups>").matcher(profile.group(1));
        assertFalse(!groups.find(), "the fast profile sets no excludedGroups");
        Set<String> excludedTags = Set.copyOf(Arrays.asList(groups.group(1).trim().split("\\s*,\\s*")));
        SortedSet<String> byName = new TreeSet<>();
        Matcher exclude = Pattern.compile("<exclude>\\*\\*/([\\w]+)\\.java</exclude>").matcher(profile.group(1));
        while (exclude.find()) {
            byName.add(exclude.group(1));
        }

        SortedSet<String> expected = new TreeSet<>();
        Pattern tag = Pattern.compile("^@Tag\\(\"([^\"]+)\"\\)", Pattern.MULTILINE);
        try (Stream<Path> files = Files.walk(Path.of("src/test/java"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                String source = Files.readString(file);
                if (!Pattern.compile("^@QuarkusTest\\b", Pattern.MULTILINE).matcher(source).find()) {
                    continue;
                }
                Matcher tags = tag.matcher(source);
                while (tags.find()) {
                    if (excludedTags.contains(tags.group(1))) {
                        expected.add(file.getFileName().toString().replace(".java", ""));
                    }
                }
            }
        }
        assertEquals(expected, byName, "pom.xml, profile fast: the <exclude> list must name exactly the @QuarkusTest classes tagged "
                + excludedTags);
    }
}
