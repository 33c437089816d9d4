package org.ccalab.common.variant;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The growth schedule of ovq.md section 4: where it starts, where it plateaus, and how folds follow it. */
class OvqSpecTest {
    private static OvqSpec spec(int chunk, int cap, int growthLength, OvqGrowth growth) {
        return new OvqSpec(chunk, cap, growthLength, growth, null, null, null, null, null, null, null, null);
    }

    @Test
    void shouldDefaultToTheSpecsRecommendations() {
        OvqSpec d = OvqSpec.DEFAULT;
        assertThat(d.chunkLength()).isEqualTo(64);
        assertThat(d.dictionarySize()).isEqualTo(1024);
        assertThat(d.growth()).isEqualTo(OvqGrowth.LOG);
        assertThat(d.assignment()).isEqualTo(OvqAssignment.EUCLIDEAN);
        assertThat(d.update()).isEqualTo(OvqUpdate.NEWTON);
        assertThat(d.stateOnly()).isFalse();
        assertThat(d.renormalizeCentroids()).isFalse();
        assertThat(d.learnBeta()).isTrue();
        assertThat(d.stateGradient()).isTrue();
        assertThat(d.swaWindow()).isEqualTo(512);
    }

    @Test
    void logScheduleReachesItsCapExactlyAtTheGrowthLength() {
        OvqSpec s = spec(64, 1024, 4096, OvqGrowth.LOG);
        double alpha = s.logAlpha();
        assertThat(alpha * Math.log1p(4096 / alpha)).isCloseTo(1024, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(s.dictionaryTarget(4096)).isEqualTo(1024);
        assertThat(s.dictionaryTarget(4095)).isLessThanOrEqualTo(1024);
        assertThat(s.dictionaryTarget(1 << 20)).isEqualTo(1024);
        assertThat(s.dictionaryTarget(0)).isZero();
        // The CRP expectation starts at one centroid per token (d/dt alpha ln(1 + t/alpha) = 1 at 0) and slows down.
        assertThat(s.dictionaryTarget(1)).isEqualTo(1);
        assertThat(s.dictionaryTarget(64)).isEqualTo((int) Math.ceil(alpha * Math.log1p(64 / alpha))).isBetween(56, 63);
    }

    @Test
    void logSchedulePlateausWhileLinearDoesNot() {
        OvqSpec log = spec(64, 1024, 8192, OvqGrowth.LOG), lin = spec(64, 1024, 8192, OvqGrowth.LINEAR);
        int previous = 0;
        for (int t = 0; t <= 8192; t += 64) {
            int n = log.dictionaryTarget(t);
            assertThat(n).isGreaterThanOrEqualTo(previous).isLessThanOrEqualTo(1024);
            previous = n;
        }
        // Concave: the first half of the tokens founds more than half the dictionary.
        assertThat(log.dictionaryTarget(4096)).isGreaterThan(600);
        assertThat(lin.dictionaryTarget(4096)).isEqualTo(512);
        assertThat(lin.dictionaryTarget(1)).isEqualTo(1); // ceil(1 / 8)
        assertThat(lin.dictionaryTarget(9)).isEqualTo(2);
    }

    @Test
    void foldsFoundAtMostOneChunkOfCentroidsAndCatchUpWithTheSchedule() {
        OvqSpec s = spec(4, 64, 128, OvqGrowth.LOG); // the schedule asks for ~1 centroid per token at first
        int n = 0;
        for (int b = 1; b <= 64; b++) {
            int next = s.dictionaryAfterChunks(b);
            assertThat(next - n).as("chunk %d", b).isBetween(0, 4);
            assertThat(next).isLessThanOrEqualTo(Math.min(64, s.dictionaryTarget(4L * b)));
            n = next;
        }
        assertThat(n).isEqualTo(64);
        assertThat(s.dictionaryAfterChunks(0)).isZero();
        // Chunk 1 of 4 tokens: the target is 4, all four are founders.
        assertThat(s.dictionaryAfterChunks(1)).isEqualTo(4);
    }
}
