package io.sandstream.config;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;

/**
 * An exclusive OS lock on a file, held until closed or until the process ends: a crash releases
 * it, so a lock never outlives the instance that took it. The lock file itself is never deleted
 * (deleting it would let a second holder lock a new file of the same name).
 */
public final class HostLock implements AutoCloseable {

    private final FileChannel channel;
    private final FileLock lock;
    public final Path file;

    private HostLock(FileChannel channel, FileLock lock, Path file) {
        this.channel = channel;
        this.lock = lock;
        this.file = file;
    }

    /**
     * Locks {@code file}, created owner-only when missing; empty when another process (or another
     * holder in this JVM) has it.
     *
     * @throws IOException when the file cannot be opened for writing (missing directory, someone
     *         else's file, a link)
     */
    public static Optional<HostLock> tryLock(Path file) throws IOException {
        return lock(file, false);
    }

    /**
     * Like {@link #tryLock}, but a lock this JVM already holds counts as this process's own: empty
     * only when another process has it. For what is one per process (the data directory), where
     * the same JVM restarts the application in a new class loader (tests, dev mode) and the old
     * loader's lock is still held.
     */
    public static Optional<HostLock> tryLockForProcess(Path file) throws IOException {
        return lock(file, true);
    }

    private static Optional<HostLock> lock(Path file, boolean heldInThisJvmIsOurs) throws IOException {
        FileChannel channel = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            FileLock lock = channel.tryLock();
            if (lock != null) {
                return Optional.of(new HostLock(channel, lock, file));
            }
        } catch (OverlappingFileLockException e) {
            if (heldInThisJvmIsOurs) {
                closeQuietly(channel);
                return Optional.of(new HostLock(null, null, file));
            }
        } catch (IOException e) {
            // not lockable here
        }
        closeQuietly(channel);
        return Optional.empty();
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing was locked
        }
    }

    @Override
    public void close() {
        if (lock == null) {
            return; // held by this process under another holder, which releases it
        }
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        closeQuietly(channel);
    }
}
