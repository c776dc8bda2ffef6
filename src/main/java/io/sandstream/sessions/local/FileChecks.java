package io.sandstream.sessions.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;

/** Owner and mode of files the service trusts, read with one stat each. */
final class FileChecks {

    /** The uid this process runs as: the owner of its own {@code /proc/self}. */
    static final int SERVICE_UID = serviceUid();

    private FileChecks() {
    }

    private static int serviceUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self/"), "unix:uid");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read this process's uid from /proc/self", e);
        }
    }

    /** What one stat says about a file; {@code follow} only for /proc's fd links, never for paths we name. */
    record Stat(int uid, int mode, long dev, long ino) {

        static Stat of(Path path, boolean follow) throws IOException {
            Map<String, Object> a = follow ? Files.readAttributes(path, "unix:uid,mode,dev,ino")
                    : Files.readAttributes(path, "unix:uid,mode,dev,ino", LinkOption.NOFOLLOW_LINKS);
            return new Stat((Integer) a.get("uid"), (Integer) a.get("mode"), (Long) a.get("dev"), (Long) a.get("ino"));
        }

        boolean isDirectory() {
            return (mode & 0170000) == 0040000;
        }

        boolean isRegularFile() {
            return (mode & 0170000) == 0100000;
        }

        boolean writableByOthers() {
            return (mode & 0022) != 0;
        }

        boolean sticky() {
            return (mode & 01000) != 0;
        }

        boolean sameFile(Stat other) {
            return dev == other.dev && ino == other.ino;
        }

        String describe() {
            return "owner uid " + uid + ", mode " + String.format("%04o", mode & 07777);
        }
    }
}
