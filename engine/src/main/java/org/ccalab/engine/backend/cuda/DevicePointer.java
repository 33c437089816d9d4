package org.ccalab.engine.backend.cuda;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/** JCuda keeps raw addresses protected; cuBLAS (called through FFM) needs them. */
final class DevicePointer extends CUdeviceptr {
    long address() {
        return getNativePointer();
    }

    /** A stream whose raw handle can be handed to cuBLAS. */
    static final class RawStream extends CUstream {
        long handle() {
            return getNativePointer();
        }
    }
}
