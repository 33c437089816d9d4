package org.ccalab.engine.backend.cuda;

/**
 * The three row-major GEMMs of a Linear layer's training step, mapped onto cuBLAS's column-major GEMM
 * (CudaBackend.gemmColumnMajor, the backend's handle and stream).
 * Operands bf16, accumulation fp32; the output bf16 (activations and their gradients) or fp32 (weight
 * gradients, accumulated with beta = 1). W is a PyTorch weight [out, in].
 */
public final class Gemm {
    static final int CUDA_R_32F = 0, CUDA_R_16BF = 14;
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

    public Gemm(CudaBackend cuda) {
        this.cuda = cuda;
    }

    /** y [rows, out] bf16 = x [rows, in] W^T, W [out, in] bf16: a Linear's forward. */
    public void forward(DeviceBuffer y, DeviceBuffer x, DeviceBuffer w, int rows, int in, int out) {
        run(false, true, rows, out, in, x, w, y, CUDA_R_16BF, false);
    }

    /** dx [rows, in] bf16 (+)= dy [rows, out] W, W [out, in] bf16: the input gradient; accumulate adds to dx. */
    public void backwardInput(DeviceBuffer dx, DeviceBuffer dy, DeviceBuffer w, int rows, int in, int out, boolean accumulate) {
        run(false, false, rows, in, out, dy, w, dx, CUDA_R_16BF, accumulate);
    }

    /** dW [out, in] fp32 += dy^T [out, rows] x [rows, in]: the weight gradient. */
    public void backwardWeight(DeviceBuffer dw, DeviceBuffer dy, DeviceBuffer x, int rows, int in, int out) {
        run(true, false, out, in, rows, dy, x, dw, CUDA_R_32F, true);
    }

    private void run(boolean transA, boolean transB, int m, int n, int k, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c,
                     int cType, boolean accumulate) {
        need(a, (long) m * k * 2, "A");
        need(b, (long) k * n * 2, "B");
        need(c, (long) m * n * (cType == CUDA_R_32F ? 4 : 2), "C");
        Call g = rowMajor(transA, transB, m, n, k);
        cuda.gemmColumnMajor(g.opFirst(), g.opSecond(), g.m(), g.n(), g.k(), b, g.ldFirst(), a, g.ldSecond(), c,
                cType == CUDA_R_32F, g.ldc(), accumulate);
    }

    private static void need(DeviceBuffer b, long bytes, String name) {
        if (b.bytes() < bytes)
            throw new IllegalArgumentException("GEMM operand " + name + ": device buffer of " + b.bytes() + " bytes, needs " + bytes);
    }
}
