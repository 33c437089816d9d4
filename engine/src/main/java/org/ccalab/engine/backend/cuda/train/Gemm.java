package org.ccalab.engine.backend.cuda.train;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import org.ccalab.engine.backend.cuda.CudaBackend;
import org.ccalab.engine.backend.cuda.DeviceBuffer;

/**
 * The three row-major GEMMs of a Linear layer's training step, on a cuBLAS handle bound to the backend's
 * stream (cublasGemmEx through java.lang.foreign; the backend's own handle only does forward products).
 * Operands bf16, accumulation fp32; the output bf16 (activations and their gradients) or fp32 (weight
 * gradients, accumulated with beta = 1). W is a PyTorch weight [out, in].
 */
final class Gemm implements AutoCloseable {
    static final int CUDA_R_32F = 0, CUDA_R_16BF = 14, CUBLAS_COMPUTE_32F = 68, CUBLAS_GEMM_DEFAULT = -1;
    static final int OP_N = 0, OP_T = 1;

    /**
     * One cublasGemmEx call in column-major terms, derived from a row-major product (tested on the CPU). The
     * first cuBLAS operand is the row-major B, the second the row-major A.
     */
    record Call(int opFirst, int opSecond, int m, int n, int k, int ldFirst, int ldSecond, int ldc) {}

    /**
     * Row-major C [M, N] = op(A) op(B) with A stored [M, K] (or [K, M] when transA) and B stored [K, N] (or
     * [N, K] when transB). cuBLAS is column-major, where a row-major X is X^T: so it computes C^T = op(B)^T
     * op(A)^T, B first; an operand stored row-major [r, c] has leading dimension c.
     */
    static Call rowMajor(boolean transA, boolean transB, int m, int n, int k) {
        if (m <= 0 || n <= 0 || k <= 0) throw new IllegalArgumentException("GEMM dims must be positive: " + m + "x" + n + "x" + k);
        return new Call(transB ? OP_T : OP_N, transA ? OP_T : OP_N, n, m, k, transB ? k : n, transA ? m : k, n);
    }

    private final CudaBackend cuda;
    private final Arena arena = Arena.ofShared();
    private final MethodHandle gemmEx;
    private final MethodHandle destroy;
    private final MemorySegment handle;
    private final MemorySegment one;
    private final MemorySegment zero;

    Gemm(CudaBackend cuda) {
        this.cuda = cuda;
        SymbolLookup lib = SymbolLookup.libraryLookup(cuda.cublasLibrary(), arena);
        Linker linker = Linker.nativeLinker();
        MethodHandle create = linker.downcallHandle(find(lib, "cublasCreate_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle setStream = linker.downcallHandle(find(lib, "cublasSetStream_v2"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        destroy = linker.downcallHandle(find(lib, "cublasDestroy_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        gemmEx = linker.downcallHandle(find(lib, "cublasGemmEx"), FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        MemorySegment out = arena.allocate(ADDRESS);
        check((int) invoke(create, out), "cublasCreate_v2");
        handle = out.get(ADDRESS, 0);
        check((int) invoke(setStream, handle, MemorySegment.ofAddress(cuda.streamHandle())), "cublasSetStream_v2");
        one = arena.allocateFrom(JAVA_FLOAT, 1f);
        zero = arena.allocateFrom(JAVA_FLOAT, 0f);
    }

    private static MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new IllegalStateException("cuBLAS has no symbol " + name));
    }

    /** y [rows, out] bf16 = x [rows, in] W^T, W [out, in] bf16: a Linear's forward. */
    void forward(DeviceBuffer y, DeviceBuffer x, DeviceBuffer w, int rows, int in, int out) {
        run(false, true, rows, out, in, x, w, y, CUDA_R_16BF, false);
    }

    /** dx [rows, in] bf16 (+)= dy [rows, out] W, W [out, in] bf16: the input gradient; accumulate adds to dx. */
    void backwardInput(DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w, int rows, int in, int out, boolean accumulate) {
        run(false, false, rows, in, out, dy, w, dx, CUDA_R_16BF, accumulate);
    }

    /** dW [out, in] fp32 += dy^T [out, rows] x [rows, in]: the weight gradient. */
    void backwardWeight(DeviceBuffer dw, DeviceBuffer dy, DeviceBuffer x, int rows, int in, int out) {
        run(true, false, out, in, rows, dy, x, dw, CUDA_R_32F, true);
    }

    private void run(boolean transA, boolean transB, int m, int n, int k, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c,
                     int cType, boolean accumulate) {
        need(a, (long) m * k * 2, "A");
        need(b, (long) k * n * 2, "B");
        need(c, (long) m * n * (cType == CUDA_R_32F ? 4 : 2), "C");
        Call g = rowMajor(transA, transB, m, n, k);
        int rc = (int) invoke(gemmEx, handle, g.opFirst(), g.opSecond(), g.m(), g.n(), g.k(), one,
                MemorySegment.ofAddress(cuda.address(b)), CUDA_R_16BF, g.ldFirst(),
                MemorySegment.ofAddress(cuda.address(a)), CUDA_R_16BF, g.ldSecond(),
                accumulate ? one : zero, MemorySegment.ofAddress(cuda.address(c)), cType, g.ldc(),
                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        check(rc, "cublasGemmEx(" + m + "x" + n + "x" + k + ", transA=" + transA + ", transB=" + transB + ")");
    }

    private static void need(DeviceBuffer b, long bytes, String name) {
        if (b.bytes() < bytes)
            throw new IllegalArgumentException("GEMM operand " + name + ": device buffer of " + b.bytes() + " bytes, needs " + bytes);
    }

    private static Object invoke(MethodHandle h, Object... args) {
        try {
            return h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static void check(int status, String what) {
        if (status != 0) throw new IllegalStateException(what + " failed with cuBLAS status " + status);
    }

    @Override
    public void close() {
        invoke(destroy, handle);
        arena.close();
    }
}
