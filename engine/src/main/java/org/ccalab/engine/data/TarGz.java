package org.ccalab.engine.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.zip.GZIPInputStream;

/**
 * Reads the regular files of a gzip'd POSIX tar (the npm package format) whose names match a filter,
 * sorted by name so that a corpus assembles in the same order everywhere. Only what npm tarballs use:
 * ustar headers with the name prefix field; pax extended headers are skipped.
 */
final class TarGz {
    private static final int BLOCK = 512;

    private TarGz() {}

    static SortedMap<String, byte[]> read(Path file, Predicate<String> wanted) throws IOException {
        SortedMap<String, byte[]> out = new TreeMap<>();
        try (InputStream in = new BufferedInputStream(new GZIPInputStream(Files.newInputStream(file), 1 << 16))) {
            byte[] header = new byte[BLOCK];
            while (true) {
                if (in.readNBytes(header, 0, BLOCK) < BLOCK) break;
                if (isZero(header)) break;
                String name = field(header, 0, 100);
                String prefix = field(header, 345, 155);
                if (!prefix.isEmpty()) name = prefix + "/" + name;
                long size = octal(header, 124, 12);
                if (size < 0 || size > Integer.MAX_VALUE) throw new IOException("tar entry " + name + " has bad size " + size);
                byte type = header[156];
                long padded = (size + BLOCK - 1) / BLOCK * BLOCK;
                boolean regular = type == '0' || type == 0;
                if (regular && wanted.test(name)) {
                    byte[] data = in.readNBytes((int) size);
                    if (data.length < size) throw new IOException("tar entry " + name + " is truncated");
                    out.put(name, data);
                    in.skipNBytes(padded - size);
                } else {
                    in.skipNBytes(padded);
                }
            }
        }
        return out;
    }

    private static boolean isZero(byte[] b) {
        for (byte x : b) if (x != 0) return false;
        return true;
    }

    private static String field(byte[] h, int off, int len) {
        int end = off;
        while (end < off + len && h[end] != 0) end++;
        return new String(h, off, end - off, StandardCharsets.UTF_8);
    }

    private static long octal(byte[] h, int off, int len) {
        String s = field(h, off, len).trim();
        return s.isEmpty() ? 0 : Long.parseLong(s, 8);
    }
}
