package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.List;

/** The device buffers a layer allocated for its lifetime: kept as they are made, all freed by {@link #close}. Not thread-safe. */
final class OwnedBuffers implements AutoCloseable {
    private final CudaBackend cuda;
    private final List<DeviceBuffer> buffers = new ArrayList<>();

    OwnedBuffers(CudaBackend cuda) {
        this.cuda = cuda;
    }

    /** {@code b}, now owned. */
    DeviceBuffer keep(DeviceBuffer b) {
        buffers.add(b);
        return b;
    }

    /** A new owned buffer of {@code bytes}, zeroed on the backend's stream. */
    DeviceBuffer zeroed(long bytes) {
        DeviceBuffer b = keep(cuda.allocate(bytes));
        cuda.zero(b);
        return b;
    }

    /** Frees every owned buffer (again harmless: the list is emptied). */
    @Override
    public void close() {
        buffers.forEach(DeviceBuffer::close);
        buffers.clear();
    }
}
