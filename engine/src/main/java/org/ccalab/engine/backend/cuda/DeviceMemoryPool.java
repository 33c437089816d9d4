package org.ccalab.engine.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import jcuda.CudaException;
import jcuda.driver.CUresult;

/**
 * A caching allocator: blocks are rounded up to a size class (powers of two up to 2 MiB, then multiples of
 * 2 MiB) and kept for reuse after {@link DeviceBuffer#close()}, because cuMemAlloc/cuMemFree synchronise the
 * device and cost tens of microseconds each. On out-of-memory it frees the cache and tries once more, then
 * fails naming the size asked, what is free and what the pool holds.
 */
public final class DeviceMemoryPool implements AutoCloseable {
    private static final long MIB2 = 2L << 20;

    private final Map<Long, ArrayDeque<DevicePointer>> free = new HashMap<>();
    private long cachedBytes;
    private long liveBytes;
    private long peakLiveBytes;

    static long sizeClass(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("allocation of " + bytes + " bytes");
        if (bytes <= MIB2) return Math.max(256, Long.highestOneBit(bytes - 1) << 1);
        return (bytes + MIB2 - 1) / MIB2 * MIB2;
    }

    public synchronized DeviceBuffer allocate(long bytes) {
        long cls = sizeClass(bytes);
        ArrayDeque<DevicePointer> q = free.get(cls);
        DevicePointer p = q == null ? null : q.pollFirst();
        if (p != null) {
            cachedBytes -= cls;
        } else {
            p = new DevicePointer();
            if (!tryAlloc(p, cls)) {
                releaseCache();
                if (!tryAlloc(p, cls)) {
                    long[] freeB = new long[1], total = new long[1];
                    cuMemGetInfo(freeB, total);
                    throw new CudaUnavailableException(String.format(
                            "CUDA out of memory: asked %d bytes (%.1f MiB, class %d), device free %.1f MiB of %.1f MiB,"
                                    + " this pool holds %.1f MiB live", bytes, bytes / 1048576.0, cls, freeB[0] / 1048576.0,
                            total[0] / 1048576.0, liveBytes / 1048576.0));
                }
            }
        }
        liveBytes += cls;
        peakLiveBytes = Math.max(peakLiveBytes, liveBytes);
        return new DeviceBuffer(this, p, bytes, cls);
    }

    private static boolean tryAlloc(DevicePointer p, long bytes) {
        try {
            int rc = cuMemAlloc(p, bytes);
            return rc == CUresult.CUDA_SUCCESS;
        } catch (CudaException e) {
            if (e.getMessage() != null && e.getMessage().contains("CUDA_ERROR_OUT_OF_MEMORY")) return false;
            throw e;
        }
    }

    synchronized void giveBack(DeviceBuffer b) {
        liveBytes -= b.capacity();
        cachedBytes += b.capacity();
        free.computeIfAbsent(b.capacity(), k -> new ArrayDeque<>()).addFirst(b.raw());
    }

    public synchronized void releaseCache() {
        for (ArrayDeque<DevicePointer> q : free.values())
            for (DevicePointer p : q) cuMemFree(p);
        free.clear();
        cachedBytes = 0;
    }

    public synchronized long cachedBytes() {
        return cachedBytes;
    }

    public synchronized long liveBytes() {
        return liveBytes;
    }

    /** The most bytes live at once (size classes) since the last {@link #resetPeak()}: a measurement's peak memory. */
    public synchronized long peakLiveBytes() {
        return peakLiveBytes;
    }

    public synchronized void resetPeak() {
        peakLiveBytes = liveBytes;
    }

    @Override
    public void close() {
        releaseCache();
    }
}
