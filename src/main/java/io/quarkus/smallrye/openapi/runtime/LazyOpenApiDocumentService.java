package io.quarkus.smallrye.openapi.runtime;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Alternative;

import io.quarkus.arc.Unremovable;
import io.quarkus.arc.profile.IfBuildProfile;
import io.quarkus.smallrye.openapi.OpenApiFilter.RunStage;
import io.quarkus.smallrye.openapi.runtime.filter.AutoSecurityFilter;
import io.smallrye.openapi.runtime.io.Format;

/**
 * Quarkus' OpenAPI document service, with the document prepared by the first request for it
 * ({@code /q/openapi}, Swagger UI) instead of on every start. Quarkus 3.33 (and 3.34) record
 * {@code prepareDocument} as a runtime-init step: it reads the build-time document, parses it,
 * applies the runtime configuration and filters and writes it as JSON and YAML on the main thread,
 * about a sixth of that thread's CPU to readiness (docs/benchmarks.md, "Start-up"). Here that step
 * only remembers its arguments; the first {@link #getDocument} runs Quarkus' own preparation with
 * them, so the document, its formats and Quarkus' handler (path, content negotiation, headers) stay
 * Quarkus' own. Quarkus serves the document on a blocking route, so that first request prepares
 * it on a worker thread, not on the event loop.
 * <p>
 * A packaged service only ({@code prod} build profile): the override needs this class and Quarkus'
 * in one class loader, as in the jars {@code target/quarkus-app} holds. Dev and test mode load the
 * application and its dependencies through two, where a package-private method is not overridden
 * at all, so there Quarkus prepares its document at start as before ({@code PackagedServiceIT}
 * fetches it from the packaged service; {@code LazyOpenApiDocumentServiceTest} shows the deferral).
 * <p>
 * Upstream made the document lazy the same way (quarkusio/quarkus#55538, eager only with a
 * {@code RUNTIME_STARTUP} filter, which this service has none of): on a Quarkus release that
 * contains it, delete this class. It sits in Quarkus' package because the step it defers is
 * package-private; {@code @Override} turns a change of that method's signature into a compile error.
 */
@Alternative
@Priority(1)
@Unremovable
@IfBuildProfile("prod")
@ApplicationScoped
public class LazyOpenApiDocumentService extends OpenApiDocumentService {

    /** Per document name, Quarkus' preparation not run yet. */
    private final Map<String, Runnable> unprepared = new ConcurrentHashMap<>();

    @Override
    void prepareDocument(AutoSecurityFilter autoSecurityFilter, Map<RunStage, List<String>> filtersByStage,
            String documentName) {
        // Quarkus reads the document through the start's context class loader: the same one later.
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        unprepared.put(documentName, () -> {
            Thread thread = Thread.currentThread();
            ClassLoader previous = thread.getContextClassLoader();
            thread.setContextClassLoader(loader);
            try {
                super.prepareDocument(autoSecurityFilter, filtersByStage, documentName);
            } finally {
                thread.setContextClassLoader(previous);
            }
        });
    }

    @Override
    public byte[] getDocument(String documentName, Format format) {
        if (!unprepared.isEmpty()) {
            prepare(documentName);
        }
        return super.getDocument(documentName, format);
    }

    /** Runs the document's preparation once; concurrent first requests wait for it. */
    private synchronized void prepare(String documentName) {
        Runnable preparation = unprepared.get(documentName);
        if (preparation != null) {
            preparation.run();
            unprepared.remove(documentName);
        }
    }
}
