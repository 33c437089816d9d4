package org.ccalab.engine.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Map;
import java.util.SplittableRandom;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.backend.cpu.Rope;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;

class DeepSeekRopeLayoutTest {
    /** DeepSeek's rotation of interleaved pairs, written out from mla.md section 2. */
    private static double[] interleaved(double[] x, int pos, double base) {
        int r = x.length;
        double[] y = x.clone();
        for (int i = 0; i < r / 2; i++) {
            double phi = pos * Math.pow(base, -2.0 * i / r), a = x[2 * i], b = x[2 * i + 1];
            y[2 * i] = a * Math.cos(phi) - b * Math.sin(phi);
            y[2 * i + 1] = b * Math.cos(phi) + a * Math.sin(phi);
        }
        return y;
    }

    @Test
    void shouldTurnInterleavedRotationIntoRotateHalf() {
        int r = 8, pos = 13;
        int[] p = DeepSeekRopeLayout.permutation(r);
        double[] x = new SplittableRandom(1).doubles(r, -1, 1).toArray();
        double[] want = interleaved(x, pos, 10_000), px = new double[r];
        for (int j = 0; j < r; j++) px[j] = x[p[j]];
        new Rope(r, 10_000).apply(px, 1, 1, pos, 1, r, 0, false);
        for (int j = 0; j < r; j++) assertThat(px[j]).isCloseTo(want[p[j]], within(1e-15));
    }

    @Test
    void shouldRoundTripAndTouchOnlyRopeRows() {
        MlaConfig c = new MlaConfig(16, 2, 5, 6, 4, 4, 3, 1e4, 1e-6);
        Map<String, Tensor> ours = LayerWeights.of(AttentionLayers.create(c, new SplittableRandom(2)));
        Map<String, Tensor> hf = DeepSeekRopeLayout.toInterleaved(ours, c);
        Map<String, Tensor> back = DeepSeekRopeLayout.fromInterleaved(hf, c);
        for (String k : ours.keySet()) assertThat(back.get(k).data()).as(k).isEqualTo(ours.get(k).data());
        assertThat(hf.get("kv_b_proj.weight").data()).isEqualTo(ours.get("kv_b_proj.weight").data());
        double[] q = ours.get("q_b_proj.weight").data(), qh = hf.get("q_b_proj.weight").data();
        int cols = 5;
        // Head 1's rope rows start at 1 * 8 + 4 = 12; ours[12 + 1] = theirs[12 + 2].
        for (int i = 0; i < cols; i++) {
            assertThat(qh[(12 + 2) * cols + i]).isEqualTo(q[(12 + 1) * cols + i]);
            assertThat(qh[3 * cols + i]).isEqualTo(q[3 * cols + i]); // nope rows unchanged
        }
        assertThat(hf.get("q_b_proj.weight").data()).isNotEqualTo(q);
    }
}
