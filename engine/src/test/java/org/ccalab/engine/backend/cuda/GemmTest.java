package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The row-major to column-major mapping, checked by running the cuBLAS call it produces on the CPU. */
class GemmTest {
    /** cublasGemmEx's semantics on column-major arrays: C[i + j ldc] = sum_l op(A)[i, l] op(B)[l, j]. */
    static double[] columnMajor(Gemm.Call g, double[] first, double[] second) {
        double[] c = new double[g.ldc() * g.n()];
        for (int i = 0; i < g.m(); i++)
            for (int j = 0; j < g.n(); j++) {
                double s = 0;
                for (int l = 0; l < g.k(); l++) {
                    double a = g.opFirst() == Gemm.OP_N ? first[i + l * g.ldFirst()] : first[l + i * g.ldFirst()];
                    double b = g.opSecond() == Gemm.OP_N ? second[l + j * g.ldSecond()] : second[j + l * g.ldSecond()];
                    s += a * b;
                }
                c[i + j * g.ldc()] = s;
            }
        return c;
    }

    @ParameterizedTest(name = "transA={0} transB={1}")
    @CsvSource({"false,false", "false,true", "true,false", "true,true"})
    void theCublasCallComputesTheRowMajorProduct(boolean transA, boolean transB) {
        int m = 5, n = 7, k = 3;
        Random r = new Random(11);
        double[] a = new double[m * k], b = new double[k * n];
        for (int i = 0; i < a.length; i++) a[i] = r.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = r.nextGaussian();
        double[] c = columnMajor(Gemm.rowMajor(transA, transB, m, n, k), b, a);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int l = 0; l < k; l++)
                    s += (transA ? a[l * m + i] : a[i * k + l]) * (transB ? b[j * k + l] : b[l * n + j]);
                // row-major C[i, j] is column-major C^T's element (j, i): index j + i * n
                assertThat(c[j + i * n]).as("C[%d,%d]", i, j).isCloseTo(s, org.assertj.core.data.Offset.offset(1e-12));
            }
    }

    @ParameterizedTest(name = "{0}x{1}x{2}")
    @CsvSource({"0,1,1", "1,0,1", "1,1,0"})
    void refusesEmptyProducts(int m, int n, int k) {
        assertThatThrownBy(() -> Gemm.rowMajor(false, true, m, n, k)).isInstanceOf(IllegalArgumentException.class);
    }
}
