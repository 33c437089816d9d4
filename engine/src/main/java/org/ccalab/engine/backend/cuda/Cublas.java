package org.ccalab.engine.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * cuBLAS through java.lang.foreign: a handle bound to our stream and bf16 GEMMs with float32 accumulation
 * (cublasGemmEx, CUDA_R_16BF, CUBLAS_COMPUTE_32F). cuBLAS uses the runtime's primary context, which is the
 * one {@link CudaDevice} makes current, so device pointers from JCuda are valid here.
 */
final class Cublas implements AutoCloseable {
    private static final int CUDA_R_32F = 0, CUDA_R_16BF = 14, CUBLAS_COMPUTE_32F = 68, CUBLAS_GEMM_DEFAULT = -1;
    private static final int OP_N = 0, OP_T = 1;
    /** cublasComputeType_t: fp32 accumulation with fp32 operands rounded to TF32 in the tensor cores. */
    private static final int CUBLAS_COMPUTE_32F_FAST_TF32 = 77;

    private final Arena arena = Arena.ofShared();
    private final Path library;
    private final MethodHandle gemmEx;
    private final MethodHandle destroy;
    private final MethodHandle gemmStridedBatchedEx;
    private final MemorySegment handle;
    private final MemorySegment one;
    private final MemorySegment zero;

    Cublas(Path library, long stream) {
        this.library = library;
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(library, arena);
        } catch (IllegalArgumentException e) {
            throw new CudaUnavailableException("cuBLAS at " + library + " could not be loaded: " + e.getMessage(), e);
        }
        Linker linker = Linker.nativeLinker();
        MethodHandle create = linker.downcallHandle(find(lib, "cublasCreate_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        MethodHandle setStream = linker.downcallHandle(find(lib, "cublasSetStream_v2"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
        destroy = linker.downcallHandle(find(lib, "cublasDestroy_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
        gemmEx = linker.downcallHandle(find(lib, "cublasGemmEx"), FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
        gemmStridedBatchedEx = linker.downcallHandle(find(lib, "cublasGemmStridedBatchedEx"), FunctionDescriptor.of(JAVA_INT,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG,
                ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_INT,
                JAVA_INT));
        MemorySegment out = arena.allocate(ADDRESS);
        check((int) invoke(create, out), "cublasCreate_v2");
        handle = out.get(ADDRESS, 0);
        check((int) invoke(setStream, handle, MemorySegment.ofAddress(stream)), "cublasSetStream_v2");
        one = arena.allocateFrom(JAVA_FLOAT, 1f);
        zero = arena.allocateFrom(JAVA_FLOAT, 0f);
    }

    private MemorySegment find(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new CudaUnavailableException(
                "cuBLAS at " + library + " has no symbol " + name + " (not a cuBLAS 12/13 library?)"));
    }

    Path library() {
        return library;
    }

    /**
     * Row-major c [M, N] = a [M, K] . b[N, K]^T (a PyTorch Linear: y = x W^T), bf16 in and out, fp32 accumulate.
     * In cuBLAS's column-major terms that is c^T = b . a^T: op T on b, op N on a.
     */
    void gemmNt(long c, long a, long b, int m, int n, int k) {
        gemmEx(OP_T, OP_N, n, m, k, b, k, a, k, c, false, n, false);
    }

    /** Row-major dW [out, in] fp32 += dy [rows, out]^T x [rows, in], bf16 operands: a Linear layer's weight gradient. */
    void linearWeightGrad(DeviceBuffer dw, DeviceBuffer dy, DeviceBuffer x, int rows, int out, int in) {
        gemmEx(OP_N, OP_T, in, out, rows, x.address(), in, dy.address(), out, dw.address(), true, in, true);
    }

    /** Row-major dx [rows, in] bf16 = dy [rows, out] W [out, in] (+ dx when accumulate): a Linear layer's input gradient. */
    void linearInputGrad(DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w, int rows, int in, int out, boolean accumulate) {
        gemmEx(OP_N, OP_N, in, rows, out, w.address(), in, dy.address(), out, dx.address(), false, in, accumulate);
    }

    /**
     * One cublasGemmEx in cuBLAS's column-major terms: c = op(first) op(second) (+ c when accumulate), operands
     * bf16, fp32 accumulation, c bf16 or fp32 (cFloat32).
     */
    void gemmEx(int opFirst, int opSecond, int m, int n, int k, long first, int ldFirst, long second, int ldSecond, long c,
                boolean cFloat32, int ldc, boolean accumulate) {
        int rc = (int) invoke(gemmEx, handle, opFirst, opSecond, m, n, k, one, MemorySegment.ofAddress(first), CUDA_R_16BF,
                ldFirst, MemorySegment.ofAddress(second), CUDA_R_16BF, ldSecond, accumulate ? one : zero,
                MemorySegment.ofAddress(c), cFloat32 ? CUDA_R_32F : CUDA_R_16BF, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        check(rc, "cublasGemmEx(m=" + m + ", n=" + n + ", k=" + k + ", ops " + opFirst + "/" + opSecond + ")");
    }

    /**
     * cublasGemmStridedBatchedEx in column-major terms: for i in [0, batch), c_i = op(a_i) op(b_i) (+ c_i when
     * accumulate), x_i = x + i * strideX elements. {@code float32}: operands and c fp32, accumulated in fp32 with
     * TF32 tensor-core products (CUBLAS_COMPUTE_32F_FAST_TF32, as PyTorch's bmm with allow_tf32); otherwise
     * operands and c bf16 with fp32 accumulation. Addresses are raw device addresses (offsets added by the caller).
     */
    void gemmStridedBatched(int opA, int opB, int m, int n, int k, long a, int lda, long strideA, long b, int ldb,
                            long strideB, long c, int ldc, long strideC, int batch, boolean float32, boolean accumulate) {
        gemmStridedBatched(opA, opB, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch, float32, accumulate, true);
    }

    /** As above; {@code tf32} false: fp32 operands multiplied in full fp32 (CUBLAS_COMPUTE_32F), slower. */
    void gemmStridedBatched(int opA, int opB, int m, int n, int k, long a, int lda, long strideA, long b, int ldb,
                            long strideB, long c, int ldc, long strideC, int batch, boolean float32, boolean accumulate,
                            boolean tf32) {
        int type = float32 ? CUDA_R_32F : CUDA_R_16BF;
        int rc = (int) invoke(gemmStridedBatchedEx, handle, opA, opB, m, n, k, one, MemorySegment.ofAddress(a), type, lda,
                strideA, MemorySegment.ofAddress(b), type, ldb, strideB, accumulate ? one : zero, MemorySegment.ofAddress(c),
                type, ldc, strideC, batch, float32 && tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        check(rc, "cublasGemmStridedBatchedEx(m=" + m + ", n=" + n + ", k=" + k + ", batch " + batch + ", ops " + opA + "/" + opB
                + (float32 ? ", fp32/TF32" : ", bf16") + ")");
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
