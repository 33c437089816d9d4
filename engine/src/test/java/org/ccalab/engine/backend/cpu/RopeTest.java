package org.ccalab.engine.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Rotate-half RoPE: scores depend on relative position only, the inverse undoes it, other channels stay. */
class RopeTest {
    private static double[] random(int n, long seed) {
        return new SplittableRandom(seed).doubles(n, -1, 1).toArray();
    }

    /** One head of 10 channels with an 8-channel rotary slice at offset 1, rotated at position {@code pos}. */
    private static double[] rotated(Rope rope, double[] x, int pos) {
        double[] y = x.clone();
        rope.apply(y, 1, 1, pos, 1, 10, 1, false);
        return y;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @Test
    void scoresDependOnRelativePositionOnly() {
        Rope rope = new Rope(8, 10_000);
        double[] q = random(10, 1), k = random(10, 2);
        for (int delta = 0; delta < 6; delta++) {
            double at0 = dot(rotated(rope, q, delta), rotated(rope, k, 0));
            for (int shift : new int[] {1, 17, 1000})
                assertThat(dot(rotated(rope, q, delta + shift), rotated(rope, k, shift)))
                        .as("delta %d shifted by %d", delta, shift).isCloseTo(at0, within(1e-9));
        }
        // Offsets are distinguishable (what a previous-token head needs).
        assertThat(dot(rotated(rope, q, 1), rotated(rope, k, 0))).isNotCloseTo(dot(rotated(rope, q, 0), rotated(rope, k, 0)), within(1e-3));
    }

    /** Pair i couples channels offset + i and offset + i + 4 with angle pos * base^(-2i/8): the complex rotation. */
    @Test
    void rotatesPairsLikeComplexMultiplication() {
        Rope rope = new Rope(8, 100);
        double[] x = random(10, 3);
        double[] y = rotated(rope, x, 5);
        assertThat(y[0]).isEqualTo(x[0]);
        assertThat(y[9]).isEqualTo(x[9]);
        for (int i = 0; i < 4; i++) {
            double phi = 5 * Math.pow(100, -2.0 * i / 8), a = x[1 + i], c = x[1 + i + 4];
            assertThat(y[1 + i]).isCloseTo(a * Math.cos(phi) - c * Math.sin(phi), within(1e-15));
            assertThat(y[1 + i + 4]).isCloseTo(c * Math.cos(phi) + a * Math.sin(phi), within(1e-15));
        }
        double[] back = y.clone();
        rope.apply(back, 1, 1, 5, 1, 10, 1, true);
        for (int i = 0; i < 10; i++) assertThat(back[i]).isCloseTo(x[i], within(1e-15));
    }
}
