package io.sandstream.wiring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.annotation.Annotation;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import io.quarkus.runtime.annotations.RegisterForReflection;

/**
 * The native image keeps what Jackson and the sandbox launcher need: every JSON type is registered
 * for reflection in {@link NativeReflection}, and the sandbox resources are included in the image.
 */
class NativeReflectionTest {

    private static final Set<Class<?>> REGISTERED = Set.of(NativeReflection.class.getAnnotation(RegisterForReflection.class).targets());

    @Test
    void everyTypeWithJacksonAnnotationsIsRegistered() throws Exception {
        Set<String> missing = new TreeSet<>();
        for (Class<?> type : compiledClasses()) {
            if (usesJacksonAnnotations(type) && !REGISTERED.contains(type)) {
                missing.add(type.getName());
            }
        }
        assertEquals(Set.of(), missing, "add these to NativeReflection's targets");
    }

    @Test
    void everyRecordReachableFromARegisteredTypeIsRegistered() {
        Set<String> missing = new TreeSet<>();
        Deque<Class<?>> todo = new ArrayDeque<>(REGISTERED);
        Set<Class<?>> seen = new java.util.HashSet<>();
        while (!todo.isEmpty()) {
            Class<?> type = todo.pop();
            if (!seen.add(type) || !type.isRecord()) {
                continue;
            }
            for (RecordComponent component : type.getRecordComponents()) {
                for (Class<?> used : ownTypes(component.getGenericType())) {
                    if (!REGISTERED.contains(used)) {
                        missing.add(used.getName() + " (in " + type.getName() + ")");
                    }
                    todo.push(used);
                }
            }
        }
        assertEquals(Set.of(), missing, "add these to NativeReflection's targets");
    }

    @Test
    void theSandboxResourcesAreIncludedInTheNativeImage() throws IOException {
        Properties properties = new Properties();
        try (InputStream in = Files.newInputStream(Path.of("src/main/resources/application.properties"))) {
            properties.load(in);
        }
        String includes = properties.getProperty("quarkus.native.resources.includes");
        assertTrue(includes != null, "quarkus.native.resources.includes is set");
        List<PathMatcher> matchers = Arrays.stream(includes.split(","))
                .map(glob -> FileSystems.getDefault().getPathMatcher("glob:" + glob.trim())).toList();
        Path resources = Path.of("src/main/resources");
        List<Path> sandboxFiles;
        try (Stream<Path> files = Files.walk(resources.resolve("sandbox"))) {
            sandboxFiles = files.filter(Files::isRegularFile).map(resources::relativize).toList();
        }
        assertFalse(sandboxFiles.isEmpty());
        for (Path file : sandboxFiles) {
            assertTrue(matchers.stream().anyMatch(m -> m.matches(file)), file + " is included in the native image");
        }
    }

    private static boolean usesJacksonAnnotations(Class<?> type) {
        Stream<Annotation> annotations = Arrays.stream(type.getDeclaredAnnotations());
        if (type.isRecord()) {
            annotations = Stream.concat(annotations, Arrays.stream(type.getRecordComponents())
                    .flatMap(c -> Arrays.stream(c.getDeclaredAnnotations())));
        }
        annotations = Stream.concat(annotations, Arrays.stream(type.getDeclaredFields()).flatMap(f -> Arrays.stream(f.getDeclaredAnnotations())));
        return annotations.anyMatch(a -> a.annotationType().getPackageName().startsWith("com.fasterxml.jackson.annotation"));
    }

    /** The io.sandstream classes a (generic) type names: {@code List<FieldError>} gives FieldError. */
    private static Set<Class<?>> ownTypes(Type type) {
        Set<Class<?>> found = new java.util.HashSet<>();
        if (type instanceof Class<?> c) {
            Class<?> element = c.isArray() ? c.getComponentType() : c;
            if (element.getName().startsWith("io.sandstream.")) {
                found.add(element);
            }
        } else if (type instanceof ParameterizedType p) {
            found.addAll(ownTypes(p.getRawType()));
            for (Type argument : p.getActualTypeArguments()) {
                found.addAll(ownTypes(argument));
            }
        }
        return found;
    }

    private static List<Class<?>> compiledClasses() throws Exception {
        Path root = Path.of(NativeReflection.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(p -> p.toString().endsWith(".class"))
                    .map(p -> root.relativize(p).toString().replace('/', '.').replaceAll("\\.class$", ""))
                    .<Class<?>>map(name -> {
                        try {
                            return Class.forName(name, false, NativeReflectionTest.class.getClassLoader());
                        } catch (ClassNotFoundException | LinkageError e) {
                            throw new IllegalStateException(name, e);
                        }
                    }).toList();
        }
    }
}
