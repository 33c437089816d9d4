package org.ccalab.engine.backend.cuda;

import jcuda.driver.CUdeviceptr;

/**
 * A device allocation from a {@link DeviceMemoryPool}; closing returns it to the pool (not to the driver).
 * {@code bytes} is what the caller asked for; the block behind it may be larger (its size class).
 */
public final class DeviceBuffer implements AutoCloseable {
    private final DeviceMemoryPool pool;
    private final DevicePointer ptr;
    private final long bytes;
    private final long capacity;
    private boolean closed;

    DeviceBuffer(DeviceMemoryPool pool, DevicePointer ptr, long bytes, long capacity) {
        this.pool = pool;
        this.ptr = ptr;
        this.bytes = bytes;
        this.capacity = capacity;
    }

    public CUdeviceptr pointer() {
        if (closed) throw new IllegalStateException("device buffer of " + bytes + " bytes used after close");
        return ptr;
    }

    long address() {
        return ptr.address();
    }

    public long bytes() {
        return bytes;
    }

    long capacity() {
        return capacity;
    }

    DevicePointer raw() {
        return ptr;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        pool.giveBack(this);
    }
}
