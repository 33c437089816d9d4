package org.ccalab.engine.backend.cuda.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.train.GradientClip;
import org.junit.jupiter.api.Test;

/** The GPU trainer's host-side arithmetic against the CPU trainer's classes it mirrors. */
class GpuTrainerTest {
    @Test
    void clipScaleIsGradientClipsFactor() {
        for (double norm : new double[] {0.0, 0.5, 1.0, 1.0000001, 3.7, 1e6}) {
            for (double max : new double[] {0.0, 1.0, 2.5}) {
                Parameter p = Parameter.zeros("w", 2);
                p.grad().data()[0] = norm;
                GradientClip.clip(List.of(p), norm, max);
                double cpuScale = norm == 0 ? 1 : p.grad().data()[0] / norm;
                assertThat((double) GpuTrainer.clipScale(norm, max)).as("norm %s max %s", norm, max)
                        .isCloseTo(cpuScale, org.assertj.core.data.Offset.offset(1e-7 * Math.max(1, cpuScale)));
            }
        }
    }

    @Test
    void adamwHyperparametersAreAdamWJavasDefaultsWithDecayOnMatricesOnly() {
        ParameterLayout.Entry matrix = new ParameterLayout.Entry(0, "m", new int[] {4, 8});
        ParameterLayout.Entry vector = new ParameterLayout.Entry(1, "g", new int[] {8});
        var h = GpuTrainer.hyper(matrix, 3e-3, 0.1);
        assertThat(h.lr()).isEqualTo(3e-3);
        assertThat(h.beta1()).isEqualTo(0.9);
        assertThat(h.beta2()).isEqualTo(0.95);
        assertThat(h.eps()).isEqualTo(1e-8);
        assertThat(h.weightDecay()).isEqualTo(0.1);
        assertThat(GpuTrainer.hyper(vector, 3e-3, 0.1).weightDecay()).isZero();
    }

    @Test
    void meanLossSumsRowsInOrderOverTheScoredCount() {
        assertThat(GpuTrainer.meanLoss(new float[] {1f, 0f, 2f, 3f}, 3)).isEqualTo(2.0);
        assertThat(GpuTrainer.meanLoss(new float[] {0f, 0f}, 0)).isZero();
    }
}
