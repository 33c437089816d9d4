package org.ccalab.engine.backend.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;
import static jcuda.driver.JCudaDriver.cuMemsetD8;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * Device 0's PRIMARY context (the one cuBLAS and any CUDA runtime code in the process also use, so pointers
 * are shared), one non-blocking stream on which every kernel and GEMM of this backend runs in order, a
 * memory pool, and event timing. Not thread-safe: one engine run drives it from one thread.
 */
final class CudaDevice implements AutoCloseable {
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final DevicePointer.RawStream stream = new DevicePointer.RawStream();
    private final DeviceMemoryPool pool = new DeviceMemoryPool();
    private final int multiprocessors;

    CudaDevice() {
        JCudaDriver.setExceptionsEnabled(true);
        cuInit(0);
        cuDeviceGet(device, 0);
        cuDevicePrimaryCtxRetain(context, device);
        cuCtxSetCurrent(context);
        cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING);
        int[] v = new int[1];
        cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
        multiprocessors = v[0];
    }

    CUstream stream() {
        return stream;
    }

    long streamHandle() {
        return stream.handle();
    }

    DeviceMemoryPool pool() {
        return pool;
    }

    int multiprocessors() {
        return multiprocessors;
    }

    /** Makes this context current on the calling thread (the driver API's current context is per thread). */
    void bind() {
        cuCtxSetCurrent(context);
    }

    // Uploads wait for the stream first: the copy runs on the legacy stream, which does not order itself after
    // our non-blocking stream, and a pooled buffer may still be read by a queued kernel.
    void upload(DeviceBuffer dst, short[] src) {
        checkSize(dst, src.length * 2L);
        synchronize();
        cuMemcpyHtoD(dst.pointer(), Pointer.to(src), src.length * 2L);
    }

    void upload(DeviceBuffer dst, float[] src) {
        checkSize(dst, src.length * 4L);
        synchronize();
        cuMemcpyHtoD(dst.pointer(), Pointer.to(src), src.length * 4L);
    }

    short[] downloadShorts(DeviceBuffer src, int count) {
        synchronize();
        short[] out = new short[count];
        cuMemcpyDtoH(Pointer.to(out), src.pointer(), count * 2L);
        return out;
    }

    float[] downloadFloats(DeviceBuffer src, int count) {
        synchronize();
        float[] out = new float[count];
        cuMemcpyDtoH(Pointer.to(out), src.pointer(), count * 4L);
        return out;
    }

    /** Fills with 0xFF bytes: bf16 NaN and float NaN, so an element a kernel forgot to write shows up. */
    void poison(DeviceBuffer b) {
        synchronize();
        cuMemsetD8(b.pointer(), (byte) 0xFF, b.bytes());
        cuCtxSynchronize();
    }

    /** Zeroes the first {@code bytes} (a multiple of 4) on the stream, ordered with the kernels around it. */
    void zero(DeviceBuffer b, long bytes) {
        cuMemsetD32Async(b.pointer(), 0, bytes / 4, stream);
    }

    /** The first {@code bytes} of src into dst on the stream, ordered with the kernels around it. */
    void copy(DeviceBuffer dst, DeviceBuffer src, long bytes) {
        checkSize(dst, bytes);
        checkSize(src, bytes);
        jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync(dst.pointer(), src.pointer(), bytes, stream);
    }

    void synchronize() {
        cuStreamSynchronize(stream);
    }

    private static void checkSize(DeviceBuffer b, long bytes) {
        if (bytes > b.bytes())
            throw new IllegalArgumentException("copy of " + bytes + " bytes into a device buffer of " + b.bytes());
    }

    /**
     * The work a body enqueues on the stream, captured once as a CUDA graph and replayed by {@link #launch}. A
     * replay runs the kernels back to back, without the host's per-launch gaps (through JCuda ~10-20 us a launch,
     * more than a batch-1 decode kernel takes), as a serving loop that replays graphs would. The body must only
     * enqueue work: no host copies or synchronisation. Buffers it takes from the pool and closes go back to the
     * pool while the graph still names them, so nothing else may allocate from the pool between capture and close.
     */
    final class CapturedGraph implements AutoCloseable {
        private final CUgraph graph = new CUgraph();
        private final CUgraphExec exec = new CUgraphExec();

        CapturedGraph(Runnable body) {
            cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED);
            try {
                body.run();
            } catch (RuntimeException e) {
                try {
                    cuStreamEndCapture(stream, graph);  // leave capture mode; the invalidated graph is dropped
                    cuGraphDestroy(graph);
                } catch (RuntimeException ignored) {
                    e.addSuppressed(ignored);
                }
                throw e;
            }
            cuStreamEndCapture(stream, graph);
            try {
                cuGraphInstantiate(exec, graph, 0);
            } catch (RuntimeException e) {
                cuGraphDestroy(graph);
                throw e;
            }
        }

        void launch() {
            cuGraphLaunch(exec, stream);
        }

        @Override
        public void close() {
            cuGraphExecDestroy(exec);
            cuGraphDestroy(graph);
        }
    }

    /** Milliseconds of device time between two points on the stream. */
    final class Timer implements AutoCloseable {
        private final CUevent start = new CUevent(), stop = new CUevent();

        Timer() {
            cuEventCreate(start, CUevent_flags.CU_EVENT_DEFAULT);
            cuEventCreate(stop, CUevent_flags.CU_EVENT_DEFAULT);
        }

        void start() {
            cuEventRecord(start, stream);
        }

        float stopMillis() {
            cuEventRecord(stop, stream);
            cuEventSynchronize(stop);
            float[] ms = new float[1];
            cuEventElapsedTime(ms, start, stop);
            return ms[0];
        }

        @Override
        public void close() {
            cuEventDestroy(start);
            cuEventDestroy(stop);
        }
    }

    @Override
    public void close() {
        cuCtxSynchronize();
        pool.close();
        cuStreamDestroy(stream);
        cuDevicePrimaryCtxRelease(device);
    }
}
