package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class Bf16Test {
    @Test
    void roundsToNearestEvenLikeTheDevice() {
        assertThat(Bf16.toFloat(Bf16.fromFloat(1.0f))).isEqualTo(1.0f);
        // 1 + 2^-8 lies half way between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
        assertThat(Bf16.toFloat(Bf16.fromFloat(1.0f + 0x1p-8f))).isEqualTo(1.0f);
        // 1 + 3·2^-8 lies half way between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6.
        assertThat(Bf16.toFloat(Bf16.fromFloat(1.0f + 3 * 0x1p-8f))).isEqualTo(1.0f + 0x1p-6f);
        assertThat(Bf16.toFloat(Bf16.fromFloat(-3.140625f))).isEqualTo(-3.140625f);
        assertThat(Float.isNaN(Bf16.toFloat(Bf16.fromFloat(Float.NaN)))).isTrue();
        assertThat(Bf16.toFloat(Bf16.fromFloat(Float.POSITIVE_INFINITY))).isEqualTo(Float.POSITIVE_INFINITY);
    }

    @Test
    void relativeRoundingErrorIsAtMostHalfAnUlp() {
        double[] x = CudaBenchCli.Random.doubles(10_000, 5);
        double[] y = Bf16.toDoubles(Bf16.fromDoubles(x));
        for (int i = 0; i < x.length; i++) assertThat(Math.abs(y[i] - x[i])).isLessThanOrEqualTo(Math.abs(x[i]) * 0x1p-8 + 1e-30);
    }
}
