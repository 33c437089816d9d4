package org.ccalab.common.variant.cost;

import static org.assertj.core.api.Assertions.assertThat;

import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqGrowth;
import org.ccalab.common.variant.OvqSpec;
import org.junit.jupiter.api.Test;

/** OVQ's cost (ovq.md section 7): linear compute, no per-token cache, a state bounded by the dictionary. */
class OvqCostTest {
    private static OvqConfig ovq(int e, int heads, int chunk, int cap, int growthLength, boolean stateOnly, boolean beta) {
        return new OvqConfig(e, heads, new OvqSpec(chunk, cap, growthLength, OvqGrowth.LOG, null, null, null, stateOnly,
                null, beta, null, null));
    }

    @Test
    void parametersAreTheFourProjectionsAndOneBetaPerHead() {
        assertThat(CostModel.parameters(ovq(2048, 32, 64, 1024, 4096, false, true))).isEqualTo(4L * 2048 * 2048 + 32);
        assertThat(CostModel.parameters(ovq(2048, 32, 64, 1024, 4096, false, false))).isEqualTo(4L * 2048 * 2048);
        assertThat(CostModel.linearWeights(new OvqConfig(2048, 32))).isEqualTo(CostModel.linearWeights(new MhaConfig(2048, 32)));
    }

    @Test
    void keepsNoPerTokenCacheAndAStateBoundedByTheFullDictionary() {
        OvqConfig c = ovq(256, 4, 16, 64, 512, false, true);
        long bound = 4L * (64 * (2 * 64 + 1) * 4 + 16 * 2 * 64 * 2);
        assertThat(CostModel.kvCacheBytesPerToken(c, 2)).isZero();
        assertThat(CostModel.decodeStateBytes(c, 2)).isEqualTo(bound);
        // Once the dictionary is full at a chunk boundary the state is the 64 rows and an empty buffer, at any length.
        long full = 4L * 64 * (2 * 64 + 1) * 4;
        assertThat(CostModel.estimate(c, 1024, 2).decodeStateBytes()).isEqualTo(full);
        assertThat(CostModel.estimate(c, 1 << 20, 2).decodeStateBytes()).isEqualTo(full);
        assertThat(CostModel.estimate(c, 1024 + 5, 2).decodeStateBytes()).isEqualTo(full + 4L * 5 * 2 * 64 * 2);
        assertThat(CostModel.estimate(c, 1 << 20, 2).decodeStateBytes()).isLessThanOrEqualTo(bound);
    }

    /** Every read pair and fold pair counted one by one, token by token, against the closed form per chunk. */
    @Test
    void prefillFlopsMatchATokenByTokenCount() {
        for (boolean stateOnly : new boolean[] {false, true}) {
            OvqConfig c = ovq(64, 2, 8, 40, 200, stateOnly, true);
            OvqSpec v = c.ovq();
            int seq = 333, d = 32, h = 2;
            long read = 0, fold = 0;
            int n = 0;
            for (int t = 0; t < seq; t++) {
                int i = t % 8;
                long keys = n + (stateOnly ? 0 : i + 1);
                read += keys * 2L * (d + d);
                if (i == 7) {
                    int grown = v.dictionaryAfterChunks(t / 8 + 1) - n;
                    fold += 8L * n * 2 * d + 8L * grown * 2 * (2 * d);
                    n += grown;
                }
            }
            long expected = 2L * 4 * 64 * 64 * seq + h * (read + fold);
            CostEstimate e = CostModel.estimate(c, seq, 2);
            assertThat(e.prefillFlopsCausal()).as("stateOnly %s", stateOnly).isEqualTo(expected);
            assertThat(e.prefillFlops()).isEqualTo(expected);
            assertThat(e.prefillAttentionFlops()).isEqualTo(h * (read + fold));
            assertThat(e.prefillConvFlops()).isZero();
        }
    }

    @Test
    void computeGrowsLinearlyOnceTheDictionaryIsFull() {
        OvqConfig c = ovq(256, 4, 16, 64, 512, false, true);
        long a = CostModel.prefillFlopsCausal(c, 4096), b = CostModel.prefillFlopsCausal(c, 8192),
                d = CostModel.prefillFlopsCausal(c, 16384);
        assertThat(d - b).isEqualTo(2 * (b - a));
        // Quadratic attention at the same width would quadruple its score term instead.
        assertThat(CostModel.decodeFlops(c, 1 << 20)).isEqualTo(CostModel.decodeFlops(c, 4096));
    }

    @Test
    void decodeReadsTheDictionaryAndTheOpenChunk() {
        OvqConfig c = ovq(256, 4, 16, 64, 512, false, true);
        int n = c.ovq().dictionaryAfterChunks(100 / 16);
        long read = 2L * 4 * (n + 100 % 16 + 1) * 2 * 64;
        assertThat(CostModel.decodeFlops(c, 100)).isEqualTo(2L * 4 * 256 * 256 + read);
        assertThat(CostModel.estimate(c, 100, 2).decodeCacheBytesRead()).isEqualTo(CostModel.estimate(c, 100, 2).decodeStateBytes());
    }
}
