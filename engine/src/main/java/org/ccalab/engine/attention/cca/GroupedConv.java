package org.ccalab.engine.attention.cca;

import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.backend.cpu.Matmul;

/**
 * Stage 2 of CCA's convolution (cca.md section 2 step 3): a causal conv of width k1 over time that mixes
 * channels only inside each head, PyTorch Conv1d(C, C, k1, groups = C / D) with {@code padding = 0}:
 * s[t, g*D + o] = b1[g*D + o] + sum_m sum_i W1[g*D + o, i, m] * u[t + m, g*D + i].
 *
 * <p>Per group and tap this is a [T, D] x [D, D] product, so it runs on the blocked matmul: each group's
 * channels are gathered into a contiguous [T + k1 - 1, D] block, multiplied by the tap's [D, D] slice of
 * W1 and scattered back.
 */
final class GroupedConv {
    private final Parameter weight; // [C, D, k1]
    private final Parameter bias;   // [C]
    private final int channels, groupWidth, width, groups;

    GroupedConv(Parameter weight, Parameter bias) {
        this.weight = weight;
        this.bias = bias;
        this.channels = weight.value().dim(0);
        this.groupWidth = weight.value().dim(1);
        this.width = weight.value().dim(2);
        this.groups = channels / groupWidth;
    }

    Parameter weight() {
        return weight;
    }

    Parameter bias() {
        return bias;
    }

    /** k1: the conv width over time. */
    int width() {
        return width;
    }

    /** W1 for group g and tap m as [D out, D in]. */
    private double[] tap(double[] w1, int g, int m) {
        int d = groupWidth;
        double[] t = new double[d * d];
        for (int o = 0; o < d; o++)
            for (int i = 0; i < d; i++) t[o * d + i] = w1[((g * d + o) * d + i) * width + m];
        return t;
    }

    /** Channels of group g of x [rows, C] as a contiguous [rows, D] block. */
    private double[] gather(double[] x, int offRow, int rows, int g) {
        int d = groupWidth;
        double[] out = new double[rows * d];
        for (int r = 0; r < rows; r++) System.arraycopy(x, (offRow + r) * channels + g * d, out, r * d, d);
        return out;
    }

    /** s [B, T, C] from u [B, T + k1 - 1, C]. */
    double[] forward(Matmul mm, double[] u, int batch, int tokens) {
        int d = groupWidth, uLen = tokens + width - 1;
        double[] w1 = weight.value().data(), b1 = bias.value().data();
        double[] s = new double[batch * tokens * channels];
        for (int g = 0; g < groups; g++) {
            double[][] taps = new double[width][];
            for (int m = 0; m < width; m++) taps[m] = tap(w1, g, m);
            for (int b = 0; b < batch; b++) {
                double[] ug = gather(u, b * uLen, uLen, g); // [T + k1 - 1, D]
                double[] sg = new double[tokens * d];       // [T, D]
                for (int m = 0; m < width; m++) mm.nt(sg, 0, ug, m * d, taps[m], 0, tokens, d, d, true);
                for (int t = 0; t < tokens; t++) {
                    int si = (b * tokens + t) * channels + g * d;
                    for (int o = 0; o < d; o++) s[si + o] = sg[t * d + o] + b1[g * d + o];
                }
            }
        }
        return s;
    }

    /** Adds du [B, T + k1 - 1, C] and the weight and bias gradients from ds [B, T, C]. */
    void backward(Matmul mm, double[] du, double[] ds, double[] u, int batch, int tokens) {
        int d = groupWidth, uLen = tokens + width - 1;
        double[] w1 = weight.value().data(), dw1 = weight.grad().data(), db1 = bias.grad().data();
        for (int g = 0; g < groups; g++) {
            double[][] taps = new double[width][];
            double[][] dTaps = new double[width][d * d];
            for (int m = 0; m < width; m++) taps[m] = tap(w1, g, m);
            for (int b = 0; b < batch; b++) {
                double[] ug = gather(u, b * uLen, uLen, g);
                double[] dsg = gather(ds, b * tokens, tokens, g);
                double[] dug = new double[uLen * d];
                for (int t = 0; t < tokens; t++)
                    for (int o = 0; o < d; o++) db1[g * d + o] += dsg[t * d + o];
                for (int m = 0; m < width; m++) {
                    mm.nn(dug, m * d, dsg, 0, taps[m], 0, tokens, d, d, true);
                    mm.tn(dTaps[m], 0, dsg, 0, ug, m * d, d, tokens, d, true);
                }
                for (int r = 0; r < uLen; r++) {
                    int ui = (b * uLen + r) * channels + g * d;
                    for (int i = 0; i < d; i++) du[ui + i] += dug[r * d + i];
                }
            }
            for (int m = 0; m < width; m++)
                for (int o = 0; o < d; o++)
                    for (int i = 0; i < d; i++) dw1[((g * d + o) * d + i) * width + m] += dTaps[m][o * d + i];
        }
    }
}
