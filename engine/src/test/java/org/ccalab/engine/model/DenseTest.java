package org.ccalab.engine.model;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The tiled, parallel kernels against plain triple loops that sum in the same order: results are equal. */
class DenseTest {
    @ParameterizedTest(name = "n={0} in={1} out={2}")
    @CsvSource({"1, 3, 5", "4, 8, 8", "67, 33, 130", "130, 64, 300"})
    void matchTheNaiveLoopsExactly(int n, int in, int out) {
        SplitMix64 rng = new SplitMix64(n * 31L + in * 7L + out);
        double[] x = gaussian(rng, n * in), w = gaussian(rng, out * in), dy = gaussian(rng, n * out);

        double[] y = new double[n * out];
        Dense.forward(y, x, w, n, in, out);
        double[] dx = gaussian(rng, n * in); // accumulates: start from non-zero
        double[] dxRef = dx.clone();
        Dense.backwardInput(dx, dy, w, n, in, out);
        double[] dw = gaussian(rng, out * in);
        double[] dwRef = dw.clone();
        Dense.backwardWeight(dw, dy, x, n, in, out);

        double[] yRef = new double[n * out];
        for (int r = 0; r < n; r++)
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int i = 0; i < in; i++) s += x[r * in + i] * w[o * in + i];
                yRef[r * out + o] = s;
            }
        for (int r = 0; r < n; r++)
            for (int o = 0; o < out; o++)
                for (int i = 0; i < in; i++) dxRef[r * in + i] += dy[r * out + o] * w[o * in + i];
        for (int o = 0; o < out; o++)
            for (int r = 0; r < n; r++)
                for (int i = 0; i < in; i++) dwRef[o * in + i] += dy[r * out + o] * x[r * in + i];

        assertThat(y).containsExactly(yRef);
        assertThat(dx).containsExactly(dxRef);
        assertThat(dw).containsExactly(dwRef);
    }

    private static double[] gaussian(SplitMix64 rng, int len) {
        double[] v = new double[len];
        for (int i = 0; i < len; i++) v[i] = rng.nextGaussian();
        return v;
    }
}
