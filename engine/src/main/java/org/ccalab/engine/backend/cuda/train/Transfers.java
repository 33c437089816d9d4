package org.ccalab.engine.backend.cuda.train;

import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

import jcuda.Pointer;
import org.ccalab.engine.backend.cuda.CudaBackend;
import org.ccalab.engine.backend.cuda.DeviceBuffer;

/**
 * Host <-> device copies into buffers that already exist (the backend's uploads allocate new ones). Each waits
 * for the stream first: the synchronous copies run on the legacy stream, which does not order itself after the
 * backend's non-blocking stream, and a kernel queued there may still read or write the buffer. An upload also
 * waits for the context afterwards: from pageable memory cuMemcpyHtoD may return once the data is staged,
 * before the DMA lands, and a kernel on the non-blocking stream would not wait for it (the step's token ids
 * are uploaded right before the embedding reads them).
 */
public final class Transfers {
    private Transfers() {}

    public static void upload(CudaBackend cuda, DeviceBuffer dst, int[] src) {
        fits(dst, src.length * 4L);
        cuda.synchronize();
        cuMemcpyHtoD(dst.pointer(), Pointer.to(src), src.length * 4L);
        cuCtxSynchronize();
    }

    static void upload(CudaBackend cuda, DeviceBuffer dst, float[] src) {
        fits(dst, src.length * 4L);
        cuda.synchronize();
        cuMemcpyHtoD(dst.pointer(), Pointer.to(src), src.length * 4L);
        cuCtxSynchronize();
    }

    static void upload(CudaBackend cuda, DeviceBuffer dst, short[] src) {
        fits(dst, src.length * 2L);
        cuda.synchronize();
        cuMemcpyHtoD(dst.pointer(), Pointer.to(src), src.length * 2L);
        cuCtxSynchronize();
    }

    public static int[] downloadInts(CudaBackend cuda, DeviceBuffer src, int count) {
        fits(src, count * 4L);
        cuda.synchronize();
        int[] out = new int[count];
        cuMemcpyDtoH(Pointer.to(out), src.pointer(), count * 4L);
        return out;
    }

    static double[] downloadDoubles(CudaBackend cuda, DeviceBuffer src, int count) {
        fits(src, count * 8L);
        cuda.synchronize();
        double[] out = new double[count];
        cuMemcpyDtoH(Pointer.to(out), src.pointer(), count * 8L);
        return out;
    }

    private static void fits(DeviceBuffer b, long bytes) {
        if (bytes > b.bytes()) throw new IllegalArgumentException("copy of " + bytes + " bytes against a device buffer of " + b.bytes());
    }
}
