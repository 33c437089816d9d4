package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class CcaPrologueWeightsTest {
    @Test
    void repackMovesEveryWeightToGroupTapInputOutputOrder() {
        int groups = 3, d = 4, k1 = 2;
        float[] w = new float[groups * d * d * k1];
        // Encode the PyTorch index (channel g*d+o, input i, tap m) in the value.
        for (int g = 0; g < groups; g++)
            for (int o = 0; o < d; o++)
                for (int i = 0; i < d; i++)
                    for (int m = 0; m < k1; m++) w[((g * d + o) * d + i) * k1 + m] = g * 1000 + o * 100 + i * 10 + m;
        float[] r = CcaPrologueWeights.repackW1(w, groups, d, k1);
        for (int g = 0; g < groups; g++)
            for (int m = 0; m < k1; m++)
                for (int i = 0; i < d; i++)
                    for (int o = 0; o < d; o++)
                        assertThat(r[((g * k1 + m) * d + i) * d + o]).isEqualTo(g * 1000 + o * 100 + i * 10 + m);
    }

    @Test
    void aWrongSizeNamesTheExpectation() {
        assertThatThrownBy(() -> CcaPrologueWeights.repackW1(new float[10], 2, 4, 2)).hasMessageContaining("groups*D*D*k1 = 64");
    }

    @Test
    void shapesNameTheFieldAtFault() {
        assertThatThrownBy(() -> new AttentionShape(1, 16, 4, 4, 96)).hasMessageContaining("headDim 96");
        assertThatThrownBy(() -> new AttentionShape(1, 16, 6, 4, 64)).hasMessageContaining("qHeads (6)");
        assertThatThrownBy(() -> new AttentionShape(1, 0, 4, 4, 64)).hasMessageContaining("tokens");
        assertThat(new AttentionShape(2, 8, 8, 2, 64).kvElements()).isEqualTo(2 * 8 * 2 * 64);
    }
}
