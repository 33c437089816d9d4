package org.ccalab.engine.attention.cca;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import java.util.SplittableRandom;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.CompressedConvSpec;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.common.variant.RopeSpec;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.io.LayerWeights;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The CCA-specific semantics: the ablation switches, the value shift and the temperature modes. */
class CompressedConvAttentionTest {
    private static final int E = 32, T = 6;

    private static CompressedConvSpec spec(KeyTemperature temp, boolean qkMean, boolean valueShift) {
        return new CompressedConvSpec(2, 2, RopeSpec.HALF, temp, 1e-12, qkMean, valueShift);
    }

    /** A 4q/2kv layer whose weights come from one seed whatever the switches, so outputs are comparable. */
    private static AttentionLayer layer(CompressedConvSpec spec) {
        AttentionLayer l = AttentionLayers.create(new CcgqaConfig(E, 4, 2, 4, spec), new SplittableRandom(1));
        Map<String, Tensor> w = LayerWeights.of(
                AttentionLayers.create(new CcgqaConfig(E, 4, 2, 4, spec(KeyTemperature.EXP, true, true)), new SplittableRandom(1)));
        for (Tensor t : w.values()) for (int i = 0; i < t.length(); i++) t.data()[i] *= 10; // away from near-uniform attention
        LayerWeights.load(l, w, true);
        return l;
    }

    private static Tensor input() {
        return Tensor.wrap(new SplittableRandom(2).doubles(T * E, -1, 1).toArray(), 1, T, E);
    }

    private static void zero(AttentionLayer l, String name) {
        l.parameters().stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow().value().fill(0);
    }

    /** With the shift, token 0's delayed value half is W_vd x_{-1} = 0; without it, W_vd x_0. */
    @Test
    void shouldTakeTheDelayedValueHalfFromThePreviousToken() {
        AttentionLayer shifted = layer(spec(KeyTemperature.EXP, true, true));
        AttentionLayer plain = layer(spec(KeyTemperature.EXP, true, false));
        zero(shifted, "v_proj_current.weight");
        zero(plain, "v_proj_current.weight");
        double[] ys = shifted.forward(input()).output().data(), yp = plain.forward(input()).output().data();
        for (int c = 0; c < E; c++) assertThat(ys[c]).as("t=0 sees only zero values").isZero();
        assertThat(java.util.Arrays.stream(yp, 0, E).map(Math::abs).max().orElseThrow()).isGreaterThan(1e-3);
        // From t = 1 on the shifted layer sees x_{t-1} through the delayed heads.
        assertThat(java.util.Arrays.stream(ys, E, 2 * E).map(Math::abs).max().orElseThrow()).isGreaterThan(1e-3);
    }

    /**
     * Without convs and without the q-k mean, q~ = 0 and the normalised query is 0 (eps keeps it finite), so
     * attention is the plain causal average of the values: y_t = W_o [mean_{s<=t} v_{s,g(h)}]_h.
     */
    @Test
    void shouldReduceToCausalAverageWhenQkMeanIsOffAndConvsAreZero() {
        AttentionLayer l = layer(spec(KeyTemperature.EXP, false, true));
        for (String p : new String[] {"conv_qk_depthwise.weight", "conv_qk_depthwise.bias", "conv_qk_grouped.weight",
                "conv_qk_grouped.bias"}) zero(l, p);
        Tensor x = input();
        double[] y = l.forward(x).output().data();
        Map<String, Tensor> w = LayerWeights.of(l);
        double[] wc = w.get("v_proj_current.weight").data(), wd = w.get("v_proj_delayed.weight").data(),
                wo = w.get("o_proj.weight").data();
        int d = 4, dk = 8;
        double[][] v = new double[T][dk]; // [c-half ; delayed half from x_{t-1}]
        for (int t = 0; t < T; t++)
            for (int r = 0; r < dk / 2; r++) {
                for (int c = 0; c < E; c++) {
                    v[t][r] += wc[r * E + c] * x.data()[t * E + c];
                    if (t > 0) v[t][dk / 2 + r] += wd[r * E + c] * x.data()[(t - 1) * E + c];
                }
            }
        for (int t = 0; t < T; t++) {
            double[] att = new double[4 * d];
            for (int h = 0; h < 4; h++)
                for (int c = 0; c < d; c++) {
                    double s = 0;
                    for (int u = 0; u <= t; u++) s += v[u][(h / 2) * d + c];
                    att[h * d + c] = s / (t + 1);
                }
            for (int o = 0; o < E; o++) {
                double s = 0;
                for (int i = 0; i < 4 * d; i++) s += wo[o * 4 * d + i] * att[i];
                assertThat(y[t * E + o]).isCloseTo(s, within(1e-12));
            }
        }
        double[] withMean = layer(spec(KeyTemperature.EXP, true, true)).forward(x).output().data();
        assertThat(withMean).isNotEqualTo(y);
    }

    /** beta = exp(theta) | theta | exp(clamp(theta, 1e-7, 2)): equal betas give equal layers. */
    @Test
    void shouldMapTemperatureModesToTheSameKeyScale() {
        AttentionLayer exp = layer(spec(KeyTemperature.EXP, true, true));
        AttentionLayer lin = layer(spec(KeyTemperature.LINEAR, true, true));
        AttentionLayer clamped = layer(spec(KeyTemperature.CLAMPED_EXP, true, true));
        double[] theta = {0.7, 2.0};
        for (int j = 0; j < 2; j++) {
            param(exp, "temp").data()[j] = theta[j];
            param(lin, "temp").data()[j] = Math.exp(theta[j]);
            param(clamped, "temp").data()[j] = j == 1 ? 5.0 : theta[j]; // clamped down to 2.0
        }
        Tensor x = input();
        double[] a = exp.forward(x).output().data(), b = lin.forward(x).output().data(), c = clamped.forward(x).output().data();
        for (int i = 0; i < a.length; i++) {
            assertThat(b[i]).isCloseTo(a[i], within(1e-12));
            assertThat(c[i]).isCloseTo(a[i], within(1e-12));
        }
        // Outside the clamp range theta receives no gradient.
        clamped.parameters().forEach(org.ccalab.engine.attention.Parameter::zeroGrad);
        clamped.backward(clamped.forward(x), x);
        assertThat(param(clamped, "temp").data()[1]).isEqualTo(5.0);
        double[] g = clamped.parameters().stream().filter(p -> p.name().equals("temp")).findFirst().orElseThrow().grad().data();
        assertThat(g[1]).isZero();
        assertThat(g[0]).isNotZero();
    }

    private static Tensor param(AttentionLayer l, String name) {
        return l.parameters().stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow().value();
    }
}
