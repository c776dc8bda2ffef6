package io.sandstream.sqlite;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.context.Initialized;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;

import org.jboss.logging.Logger;
import org.sqlite.SQLiteJDBCLoader;

import io.quarkus.runtime.ImageMode;

/**
 * Loads sqlite-jdbc's native library on a thread of its own as soon as the CDI container exists
 * (Quarkus' static init), beside the rest of the start, rather than on the main thread when the
 * journal opens its database. Unless told where the library is, the driver copies it out of its
 * jar into {@code java.io.tmpdir} and compares the copy byte by byte on every start: about a tenth
 * of the start's main thread with the AOT cache. The image takes the library out at build time
 * ({@code org.sqlite.lib.path}, Dockerfile.jvm), where this only loads it. The first connection
 * waits for this load (the driver's loader is synchronized) and reports a failure itself.
 * <p>
 * JVM mode only (hence Quarkus' build warning about this event): a native image runs the static
 * init while it is built, where no thread may be left running, and the first connection loads the
 * library there.
 */
@Singleton
class NativeLibraryPreload {

    private static final Logger LOG = Logger.getLogger(NativeLibraryPreload.class);

    static void preload(@Observes @Initialized(ApplicationScoped.class) Object containerStarted) {
        if (ImageMode.current() != ImageMode.JVM) {
            return;
        }
        Thread thread = new Thread(NativeLibraryPreload::load, "sqlite-native-library");
        thread.setDaemon(true);
        thread.start();
    }

    private static void load() {
        try {
            SQLiteJDBCLoader.initialize();
        } catch (Exception | LinkageError e) {
            LOG.debugf("sqlite-jdbc's native library did not load ahead of the first connection: %s", e);
        }
    }
}
