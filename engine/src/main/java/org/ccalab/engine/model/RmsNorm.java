package org.ccalab.engine.model;

import org.ccalab.engine.attention.Parameter;

/**
 * y = x / sqrt(mean(x^2) + eps) * g over the last axis. Forward saves the reciprocal RMS per row, which
 * with x is all that backward needs.
 */
public final class RmsNorm {
    private final Parameter weight; // g [E]
    private final double eps;

    public RmsNorm(String name, int width, double eps) {
        this.weight = Parameter.zeros(name, width);
        this.weight.value().fill(1.0);
        this.eps = eps;
    }

    public Parameter weight() {
        return weight;
    }

    /** y [n, E] from x [n, E]; returns rstd [n]. */
    public double[] forward(double[] y, double[] x, int n) {
        int e = weight.value().length();
        double[] g = weight.value().data();
        double[] rstd = new double[n];
        Dense.parallel(n, (long) n * e * 4, r -> {
            int off = r * e;
            double ss = 0;
            for (int i = 0; i < e; i++) ss += x[off + i] * x[off + i];
            double rs = 1.0 / Math.sqrt(ss / e + eps);
            rstd[r] = rs;
            for (int i = 0; i < e; i++) y[off + i] = x[off + i] * rs * g[i];
        });
        return rstd;
    }

    /**
     * dx [n, E] += d/dx given dy [n, E]; dg += sum over rows of dy * xhat. With xhat = x * rstd:
     * dx = rstd * (dy*g - xhat * mean(dy*g*xhat)).
     */
    public void backward(double[] dx, double[] dy, double[] x, double[] rstd, int n) {
        int e = weight.value().length();
        double[] g = weight.value().data();
        double[] dg = weight.grad().data();
        Dense.parallel(n, (long) n * e * 6, r -> {
            int off = r * e;
            double rs = rstd[r];
            double dot = 0;
            for (int i = 0; i < e; i++) dot += dy[off + i] * g[i] * x[off + i] * rs;
            double mean = dot / e;
            for (int i = 0; i < e; i++) {
                double xhat = x[off + i] * rs;
                dx[off + i] += rs * (dy[off + i] * g[i] - xhat * mean);
            }
        });
        // The weight gradient sums over rows: one pass per channel keeps the order fixed.
        for (int r = 0; r < n; r++) {
            int off = r * e;
            double rs = rstd[r];
            for (int i = 0; i < e; i++) dg[i] += dy[off + i] * x[off + i] * rs;
        }
    }
}
