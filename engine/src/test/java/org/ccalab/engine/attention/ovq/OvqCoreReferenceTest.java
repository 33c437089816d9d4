package org.ccalab.engine.attention.ovq;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.variant.OvqUpdate;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The core's float64 gradients (the GPU backward's oracle) against central differences of the core's own forward:
 * loss = sum(att . dOut) over T tokens that grow, fill and keep folding a small dictionary. With the gradient through
 * the folds every input's gradient is the forward's; without it (ovq.md section 6's cheaper variant) q's and beta's
 * still are (neither enters the state). The step is small enough that no fold decision flips (checked: the
 * dictionaries of the perturbed runs equal the unperturbed one's).
 */
class OvqCoreReferenceTest {
    static final int D = 8, T = 37, H = 2, B = 1;
    static final double EPS = 1e-6;

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void gradientsAreTheForwardsCentralDifferences(boolean stateGradient) {
        for (OvqUpdate update : OvqUpdate.values()) {
            OvqSpec spec = new OvqSpec(4, 5, 24, null, null, update, 0.3, null, null, null, stateGradient, 0);
            SplittableRandom rng = new SplittableRandom(update.ordinal() * 2 + (stateGradient ? 1 : 0));
            int n = B * T * H * D;
            double[] q = unitRows(rng, n), k = unitRows(rng, n), v = new double[n], dOut = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = rng.nextGaussian();
                dOut[i] = rng.nextGaussian();
            }
            double[] beta = {2.5, 3.1};
            OvqCoreReference.Gradients g = OvqCoreReference.backward(spec, D, B, T, H, q, k, v, beta, dOut);
            OvqCoreReference.Result base = OvqCoreReference.run(spec, D, B, T, H, q, k, v, beta);
            for (int trial = 0; trial < 12; trial++) {
                int i = rng.nextInt(n);
                assertClose("dq[" + i + "]", g.dq()[i], difference(spec, q, i, () -> loss(spec, q, k, v, beta, dOut, base)));
                if (!stateGradient) continue; // k and v also reach later chunks through the folds, a path this variant stops
                assertClose("dk[" + i + "]", g.dk()[i], difference(spec, k, i, () -> loss(spec, q, k, v, beta, dOut, base)));
                assertClose("dv[" + i + "]", g.dv()[i], difference(spec, v, i, () -> loss(spec, q, k, v, beta, dOut, base)));
            }
            for (int h = 0; h < H; h++)
                assertClose("dbeta[" + h + "]", g.dBeta()[h], difference(spec, beta, h, () -> loss(spec, q, k, v, beta, dOut, base)));
        }
    }

    /** (f(x + eps e_i) - f(x - eps e_i)) / 2 eps, x restored. */
    private static double difference(OvqSpec spec, double[] x, int i, java.util.function.DoubleSupplier f) {
        double keep = x[i];
        x[i] = keep + EPS;
        double up = f.getAsDouble();
        x[i] = keep - EPS;
        double down = f.getAsDouble();
        x[i] = keep;
        return (up - down) / (2 * EPS);
    }

    /** sum(att . dOut), asserting that the perturbed run made the unperturbed run's fold decisions. */
    private static double loss(OvqSpec spec, double[] q, double[] k, double[] v, double[] beta, double[] dOut,
                               OvqCoreReference.Result base) {
        OvqCoreReference.Result r = OvqCoreReference.run(spec, D, B, T, H, q, k, v, beta);
        assertThat(r.size()).isEqualTo(base.size());
        for (int bh = 0; bh < B * H; bh++) assertThat(r.counts()[bh]).isEqualTo(base.counts()[bh]);
        double s = 0;
        for (int i = 0; i < dOut.length; i++) s += r.att()[i] * dOut[i];
        return s;
    }

    private static void assertClose(String what, double analytic, double numeric) {
        assertThat(Math.abs(analytic - numeric)).as(what + ": analytic " + analytic + ", numeric " + numeric)
                .isLessThan(1e-6 * Math.max(1, Math.abs(numeric)));
    }

    private static double[] unitRows(SplittableRandom rng, int n) {
        double[] x = new double[n];
        for (int r = 0; r < n / D; r++) {
            double ss = 0;
            for (int i = 0; i < D; i++) {
                x[r * D + i] = rng.nextGaussian();
                ss += x[r * D + i] * x[r * D + i];
            }
            for (int i = 0; i < D; i++) x[r * D + i] /= Math.sqrt(ss);
        }
        return x;
    }
}
