package io.sandstream.sessions.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

import org.jboss.logging.Logger;

import io.sandstream.config.HostLock;
import io.sandstream.sessions.local.FileChecks.Stat;

/**
 * The block of host uids this instance's sandboxes run as, claimed host-wide: an exclusive lock
 * on {@code sandstream-uids-FIRST.lock} in a directory every instance on the host uses
 * ({@code /run/lock} unless configured). Two instances started with the same first uid get
 * consecutive blocks instead of sharing uids (and so each other's {@code RLIMIT_NPROC} counts and
 * signals). The lock lives as long as the process, or until {@link #close()}.
 */
final class UidBlock implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(UidBlock.class);
    static final int SIZE = 4096;
    static final Path DEFAULT_LOCK_DIR = Path.of("/run/lock");
    private static final int MAX_BLOCKS = 64;

    final int first;
    private final HostLock lock;

    private UidBlock(int first, HostLock lock) {
        this.first = first;
        this.lock = lock;
    }

    /** The first free block from {@code configuredFirst} on; refuses when it cannot take one safely. */
    static UidBlock claim(Optional<Path> configuredDir, int configuredFirst) {
        Path dir = configuredDir.orElse(DEFAULT_LOCK_DIR);
        String unusable = unusable(dir, configuredDir.isPresent());
        if (unusable != null) {
            throw new IllegalStateException("cannot claim a block of sandbox uids: the lock directory " + dir + " " + unusable
                    + "; set sandstream.sessions.uid-lock-dir to a directory that only root or the service's user can write,"
                    + " the same for every instance on this host");
        }
        for (int i = 0; i < MAX_BLOCKS; i++) {
            long first = (long) configuredFirst + (long) i * SIZE;
            if (first + SIZE > Integer.MAX_VALUE) {
                break;
            }
            Path file = dir.resolve("sandstream-uids-" + first + ".lock");
            Optional<HostLock> lock;
            try {
                lock = HostLock.tryLock(file);
            } catch (IOException e) {
                LOG.debugf("cannot open %s (another user's lock file?): %s", file, e);
                lock = Optional.empty(); // not ours to use: as good as taken
            }
            if (lock.isPresent()) {
                if (i > 0) {
                    LOG.warnf("sandbox uids %d-%d are taken by another instance on this host: using %d-%d", configuredFirst,
                            configuredFirst + SIZE - 1, first, first + SIZE - 1);
                }
                LOG.infof("sandbox uids %d-%d (claimed with %s)", first, first + SIZE - 1, lock.get().file);
                return new UidBlock((int) first, lock.get());
            }
        }
        throw new IllegalStateException("no free block of sandbox uids: the " + MAX_BLOCKS + " blocks of " + SIZE + " from "
                + configuredFirst + " are claimed in " + dir + " (or their lock files belong to another user);"
                + " set sandstream.sessions.first-uid to another range");
    }

    /**
     * Null when the directory can hold the locks: a directory (not a link), owned by root or this
     * service, and any other writer only under the sticky bit (nobody can delete or replace
     * another's lock file). A configured one is created, mode 700, when missing.
     */
    private static String unusable(Path dir, boolean configured) {
        try {
            if (configured && !Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
            Stat stat = Stat.of(dir, false);
            if (!stat.isDirectory()) {
                return "is not a directory";
            }
            if (stat.uid() != 0 && stat.uid() != FileChecks.SERVICE_UID) {
                return "belongs to uid " + stat.uid();
            }
            if (stat.writableByOthers() && !stat.sticky()) {
                return "is writable by group or others without the sticky bit (" + stat.describe() + ")";
            }
            if (!Files.isWritable(dir)) {
                return "is not writable by uid " + FileChecks.SERVICE_UID;
            }
            return null;
        } catch (IOException e) {
            return "cannot be used (" + e + ")";
        }
    }

    @Override
    public void close() {
        lock.close();
    }
}
