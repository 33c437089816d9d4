package org.ccalab.engine.backend.cpu;

/**
 * Plain single-threaded loops for the products of {@link Matmul}: the algorithmic reference the fast
 * kernels are tested against, kept readable on purpose.
 */
public final class ReferenceKernels {
    private ReferenceKernels() {}

    /** C[M,N] (+)= A[M,K] B[K,N]. */
    public static void nn(double[] c, double[] a, double[] b, int m, int k, int n, boolean accumulate) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
                c[i * n + j] = accumulate ? c[i * n + j] + s : s;
            }
    }

    /** C[M,N] (+)= A[M,K] B[N,K]^T. */
    public static void nt(double[] c, double[] a, double[] b, int m, int k, int n, boolean accumulate) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
                c[i * n + j] = accumulate ? c[i * n + j] + s : s;
            }
    }

    /** C[M,N] (+)= A[K,M]^T B[K,N]. */
    public static void tn(double[] c, double[] a, double[] b, int m, int k, int n, boolean accumulate) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[p * m + i] * b[p * n + j];
                c[i * n + j] = accumulate ? c[i * n + j] + s : s;
            }
    }
}
