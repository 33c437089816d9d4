package org.ccalab.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import java.util.random.RandomGenerator;
import org.ccalab.engine.tensor.Tensor;

/**
 * The checks every variant must pass: analytic gradients equal float64 central finite differences for the
 * input and every parameter, and token-by-token decode reproduces prefill at every position.
 */
public final class LayerChecks {
    /** Central-difference step: truncation error ~h^2 and rounding ~1e-16/h both stay near 1e-10. */
    private static final double H = 1e-5;
    /** Entries checked per tensor; all of them when the tensor is at most this large. */
    private static final int MAX_ENTRIES = 48;

    private LayerChecks() {}

    static Tensor randn(RandomGenerator rng, double std, int... shape) {
        Tensor t = Tensor.zeros(shape);
        double[] d = t.data();
        for (int i = 0; i < d.length; i++) d[i] = std * rng.nextGaussian();
        return t;
    }

    /**
     * Moves every parameter away from its initial values (std 0.02 makes attention nearly uniform and hides
     * errors in the nonlinear parts); temperatures stay inside (0.2, 1.2) so no clamp edge is near.
     */
    static void scrambleParameters(AttentionLayer layer, long seed) {
        RandomGenerator rng = new SplittableRandom(seed);
        for (Parameter p : layer.parameters()) {
            double[] w = p.value().data();
            for (int i = 0; i < w.length; i++) {
                if (p.name().equals("temp")) w[i] = 0.2 + rng.nextDouble();
                else if (p.name().endsWith("layernorm.weight")) w[i] = 1 + 0.3 * rng.nextGaussian();
                else w[i] = 0.35 * rng.nextGaussian();
            }
        }
    }

    private static double loss(AttentionLayer layer, Tensor x, Tensor r) {
        double[] y = layer.forward(x).output().data(), rr = r.data();
        double s = 0;
        for (int i = 0; i < y.length; i++) s += y[i] * rr[i];
        return s;
    }

    /** Compares backward's gradients with finite differences of L = sum(y * r); returns entries checked. */
    static int checkGradients(AttentionLayer layer, int batch, int tokens, long seed) {
        RandomGenerator rng = new SplittableRandom(seed);
        int e = layer.config().dModel();
        Tensor x = randn(rng, 1.0, batch, tokens, e), r = randn(rng, 1.0, batch, tokens, e);
        layer.parameters().forEach(Parameter::zeroGrad);
        Tensor dx = layer.backward(layer.forward(x), r);
        int checked = compare("x", x.data(), dx.data(), () -> loss(layer, x, r), rng);
        for (Parameter p : layer.parameters())
            checked += compare(p.name(), p.value().data(), p.grad().data(), () -> loss(layer, x, r), rng);
        return checked;
    }

    /**
     * Central differences of {@code f} over {@code values} (every entry, or 48 drawn by {@code rng}) against the
     * analytic gradient; refuses an identically zero gradient, which would prove nothing. Returns the entries checked.
     */
    public static int compare(String name, double[] values, double[] analytic, java.util.function.DoubleSupplier f,
                              RandomGenerator rng) {
        int n = values.length;
        boolean all = n <= MAX_ENTRIES;
        double maxAbs = 0;
        for (double a : analytic) maxAbs = Math.max(maxAbs, Math.abs(a));
        assertThat(maxAbs).as("gradient of %s is identically zero: the check would prove nothing", name).isGreaterThan(0);
        for (int c = 0; c < (all ? n : MAX_ENTRIES); c++) {
            int i = all ? c : rng.nextInt(n);
            double keep = values[i];
            values[i] = keep + H;
            double up = f.getAsDouble();
            values[i] = keep - H;
            double down = f.getAsDouble();
            values[i] = keep;
            double numeric = (up - down) / (2 * H);
            assertThat(analytic[i]).as("d loss / d %s[%d]", name, i)
                    .isCloseTo(numeric, org.assertj.core.data.Offset.offset(1e-7 * (1 + maxAbs)));
        }
        return all ? n : MAX_ENTRIES;
    }

    /** Feeds the sequence token by token through decode and compares with prefill at every position. */
    static double checkDecodeEqualsPrefill(AttentionLayer layer, int batch, int tokens, long seed) {
        RandomGenerator rng = new SplittableRandom(seed);
        int e = layer.config().dModel();
        Tensor x = randn(rng, 1.0, batch, tokens, e);
        double[] y = layer.forward(x).output().data();
        DecodeState state = layer.newDecodeState(batch);
        double worst = 0, scale = 0;
        for (double v : y) scale = Math.max(scale, Math.abs(v));
        for (int t = 0; t < tokens; t++) {
            assertThat(state.position()).isEqualTo(t);
            Tensor xt = Tensor.zeros(batch, e);
            for (int b = 0; b < batch; b++) System.arraycopy(x.data(), (b * tokens + t) * e, xt.data(), b * e, e);
            double[] yt = layer.decode(state, xt).data();
            for (int b = 0; b < batch; b++)
                for (int c = 0; c < e; c++) {
                    double diff = Math.abs(yt[b * e + c] - y[(b * tokens + t) * e + c]);
                    worst = Math.max(worst, diff);
                    assertThat(diff).as("decode vs prefill at b=%d t=%d c=%d", b, t, c).isLessThan(1e-12 * (1 + scale));
                }
        }
        assertThat(state.position()).isEqualTo(tokens);
        return worst;
    }
}
