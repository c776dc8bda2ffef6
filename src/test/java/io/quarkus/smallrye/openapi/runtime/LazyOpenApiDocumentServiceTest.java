package io.quarkus.smallrye.openapi.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

import io.quarkus.smallrye.openapi.OpenApiFilter.RunStage;
import io.smallrye.openapi.runtime.io.Format;

/**
 * The start only records the document's preparation; the first request runs Quarkus' own, once,
 * through the start's class loader. Quarkus reads its build-time document
 * ({@code META-INF/quarkus-generated-openapi-doc.JSON}) from the context class loader: a loader
 * that counts those reads shows when the preparation runs. (That {@code /q/openapi} serves the
 * document in both formats: {@code EventsResourceTest}.)
 */
class LazyOpenApiDocumentServiceTest {

    private static final String DOCUMENT = """
            {"openapi":"3.1.0","info":{"title":"lazy","version":"1"},"paths":{"/lazy":{"get":{"responses":{"200":{"description":"OK"}}}}}}""";

    @Test
    void preparesTheDocumentOnTheFirstRequestOnly() {
        AtomicInteger reads = new AtomicInteger();
        ClassLoader startLoader = new ClassLoader(getClass().getClassLoader()) {
            @Override
            public InputStream getResourceAsStream(String name) {
                if (name.startsWith(OpenApiConstants.BASE_NAME)) {
                    reads.incrementAndGet();
                    return new ByteArrayInputStream(DOCUMENT.getBytes(StandardCharsets.UTF_8));
                }
                return super.getResourceAsStream(name);
            }
        };
        Map<RunStage, List<String>> filtersByStage = new EnumMap<>(RunStage.class);
        for (RunStage stage : RunStage.values()) {
            filtersByStage.put(stage, List.of());
        }
        LazyOpenApiDocumentService service = new LazyOpenApiDocumentService();
        service.config = ConfigProvider.getConfig();

        Thread thread = Thread.currentThread();
        ClassLoader testLoader = thread.getContextClassLoader();
        thread.setContextClassLoader(startLoader);
        try {
            service.prepareDocument(null, filtersByStage, OpenApiConstants.DEFAULT_DOCUMENT_NAME);
        } finally {
            thread.setContextClassLoader(testLoader);
        }
        assertEquals(0, reads.get(), "the start read the document");

        String json = new String(service.getDocument(OpenApiConstants.DEFAULT_DOCUMENT_NAME, Format.JSON), StandardCharsets.UTF_8);
        String yaml = new String(service.getDocument(OpenApiConstants.DEFAULT_DOCUMENT_NAME, Format.YAML), StandardCharsets.UTF_8);
        assertEquals(1, reads.get(), "the first request prepares the document, once");
        assertTrue(json.contains("\"/lazy\""), json);
        assertTrue(yaml.contains("/lazy:"), yaml);
        assertSame(testLoader, thread.getContextClassLoader(), "the request's class loader is restored");
    }
}
