package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** What of the GPU CCA layer is plain host code: the W1 (un)packing and the dW1 split rule. */
class CudaCcaLayerTest {
    @Test
    void unpackW1InvertsRepackW1() {
        int groups = 3, d = 4, k1 = 3;
        float[] w1 = new float[groups * d * d * k1];
        for (int i = 0; i < w1.length; i++) w1[i] = i * 0.5f - 7;
        float[] packed = CcaPrologueWeights.repackW1(w1, groups, d, k1);
        assertThat(packed).isNotEqualTo(w1);
        assertThat(CudaCcaLayer.unpackW1(packed, groups, d, k1)).isEqualTo(w1);
        // [C, D, k1] element (channel g*D + o, input i, tap m) sits at [g, m, i, o] in the packed layout
        int g = 2, o = 1, i = 3, m = 2;
        assertThat(packed[((g * k1 + m) * d + i) * d + o]).isEqualTo(w1[((g * d + o) * d + i) * k1 + m]);
        assertThatThrownBy(() -> CudaCcaLayer.unpackW1(new float[5], groups, d, k1)).hasMessageContaining("expected");
    }

    @Test
    void theDw1GemmSplitsLongSequencesOnly() {
        assertThat(CudaCcaLayer.w1Split(16384)).isEqualTo(16);
        assertThat(CudaCcaLayer.w1Split(4096)).isEqualTo(16);
        assertThat(CudaCcaLayer.w1Split(4095)).isEqualTo(1);
        assertThat(CudaCcaLayer.w1Split(2048)).isEqualTo(1);
        assertThat(CudaCcaLayer.w1Split(4100)).isEqualTo(1);
    }
}
