package org.ccalab.engine.attention.cca;

import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.backend.cpu.Parallel;

/**
 * Stage 1 of CCA's convolution (cca.md section 2 step 2): a depthwise causal conv over time, one filter of
 * width k0 per channel, PyTorch Conv1d(C, C, k0, groups = C) with {@code padding = 0} on an input that the
 * caller has already left-padded (zeros in prefill, the conv window in decode). Tap k0 - 1 multiplies the
 * newest sample (cross-correlation).
 *
 * <p>Given zpad [B, P + T, C], output u [B, T + k1 - 1, C] with u[j] = b0 + sum_m w0[:, m] * zpad[j + m]; the
 * first k1 - 1 outputs are the spec's "virtual" positions, which is why b0 collects gradient from them.
 */
final class DepthwiseConv {
    private final Parameter weight; // [C, 1, k0]
    private final Parameter bias;   // [C]
    private final int channels, width;

    DepthwiseConv(Parameter weight, Parameter bias) {
        this.weight = weight;
        this.bias = bias;
        this.channels = weight.value().dim(0);
        this.width = weight.value().dim(2);
    }

    Parameter weight() {
        return weight;
    }

    Parameter bias() {
        return bias;
    }

    /** u [B, outLen, C] from zpad [B, outLen + k0 - 1, C]. */
    double[] forward(Parallel par, double[] zpad, int batch, int outLen) {
        int inLen = outLen + width - 1, c = channels;
        double[] w = weight.value().data(), b0 = bias.value().data();
        double[] u = new double[batch * outLen * c];
        par.forRange(batch * outLen, Math.max(1, 8192 / (c * width)), (from, to) -> {
            for (int bj = from; bj < to; bj++) {
                int b = bj / outLen, j = bj % outLen, ui = bj * c;
                for (int ch = 0; ch < c; ch++) {
                    double s = b0[ch];
                    for (int m = 0; m < width; m++) s += w[ch * width + m] * zpad[(b * inLen + j + m) * c + ch];
                    u[ui + ch] = s;
                }
            }
        });
        return u;
    }

    /** Adds dzpad [B, outLen + k0 - 1, C] and the weight and bias gradients from du [B, outLen, C]. */
    void backward(Parallel par, double[] dzpad, double[] du, double[] zpad, int batch, int outLen) {
        int inLen = outLen + width - 1, c = channels;
        double[] w = weight.value().data(), dw = weight.grad().data(), db = bias.grad().data();
        // Tasks own disjoint channel ranges, so every write below has one writer.
        par.forRange(c, Math.max(1, 65536 / Math.max(1, batch * outLen * width)), (from, to) -> {
            for (int b = 0; b < batch; b++)
                for (int j = 0; j < outLen; j++) {
                    int ui = (b * outLen + j) * c;
                    for (int ch = from; ch < to; ch++) {
                        double g = du[ui + ch];
                        db[ch] += g;
                        for (int m = 0; m < width; m++) {
                            int zi = (b * inLen + j + m) * c + ch;
                            dw[ch * width + m] += g * zpad[zi];
                            dzpad[zi] += g * w[ch * width + m];
                        }
                    }
                }
        });
    }
}
