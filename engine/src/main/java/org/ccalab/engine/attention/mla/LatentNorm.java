package org.ccalab.engine.attention.mla;

import org.ccalab.engine.attention.Parameter;

/**
 * MLA's inner RMSNorm (mla.md section 2): y = w * x (mean(x^2) + eps)^(-1/2) over rows of width n, weight
 * initialised to 1, no bias. Forward keeps the per-row inverse RMS for backward.
 */
final class LatentNorm {
    private final Parameter weight; // [n]
    private final double eps;
    private final int n;

    LatentNorm(Parameter weight, double eps) {
        this.weight = weight;
        this.eps = eps;
        this.n = weight.value().length();
    }

    Parameter weight() {
        return weight;
    }

    /** y [rows, n] from rows of x at {@code xOff + r * xStride}; fills inv [rows]. */
    double[] forward(double[] x, int xOff, int xStride, int rows, double[] inv) {
        double[] w = weight.value().data(), y = new double[rows * n];
        for (int r = 0; r < rows; r++) {
            int xi = xOff + r * xStride;
            double ss = 0;
            for (int c = 0; c < n; c++) ss += x[xi + c] * x[xi + c];
            inv[r] = 1 / Math.sqrt(ss / n + eps);
            for (int c = 0; c < n; c++) y[r * n + c] = w[c] * x[xi + c] * inv[r];
        }
        return y;
    }

    /**
     * Writes dx (same strided layout as x) from dy [rows, n] and adds the weight gradient:
     * g = dy * w, dx = inv (g - x inv^2 mean(g * x)), dw += dy * x * inv.
     */
    void backward(double[] dx, double[] dy, double[] x, int xOff, int xStride, int rows, double[] inv) {
        double[] w = weight.value().data(), dw = weight.grad().data();
        for (int r = 0; r < rows; r++) {
            int xi = xOff + r * xStride;
            double dot = 0;
            for (int c = 0; c < n; c++) dot += dy[r * n + c] * w[c] * x[xi + c];
            double ir = inv[r], k = ir * ir * dot / n;
            for (int c = 0; c < n; c++) {
                dw[c] += dy[r * n + c] * x[xi + c] * ir;
                dx[xi + c] = ir * (dy[r * n + c] * w[c] - x[xi + c] * k);
            }
        }
    }
}
