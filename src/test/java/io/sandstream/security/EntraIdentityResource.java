package io.sandstream.security;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.Map;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

/**
 * Starts a {@link TestIdentity} (local Entra ID stand-in) for a {@code @QuarkusTest} and points
 * ingress authentication at it; the mode ({@code bearer}, {@code key-or-bearer}) is the resource's
 * {@code mode} init arg. A field annotated {@link InjectIdentity} receives it.
 */
public class EntraIdentityResource implements QuarkusTestResourceLifecycleManager {

    @Retention(RetentionPolicy.RUNTIME)
    @Target(ElementType.FIELD)
    public @interface InjectIdentity {
    }

    private TestIdentity identity;
    private String mode = "bearer";

    @Override
    public void init(Map<String, String> initArgs) {
        mode = initArgs.getOrDefault("mode", mode);
    }

    @Override
    public Map<String, String> start() {
        identity = new TestIdentity();
        return identity.config(mode);
    }

    @Override
    public void inject(TestInjector testInjector) {
        testInjector.injectIntoFields(identity, new TestInjector.AnnotatedAndMatchesType(InjectIdentity.class, TestIdentity.class));
    }

    @Override
    public void stop() {
        if (identity != null) {
            identity.close();
        }
    }
}
