package org.ccalab.engine.backend.cuda.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

class ActivationPlanTest {
    // B 2, T 64, E 256, Hq 4, Hkv 2, D 64, F 688, V 256, L 2
    private static final ModelShape SHAPE = new ModelShape(2, 64, 256, 4, 2, 64, 688, 256, 2, 64, 1e4, 1e-6);

    @Test
    void sizesEveryBufferFromTheShape() {
        ActivationPlan plan = new ActivationPlan(SHAPE);
        long n = 128;
        assertThat(plan.get("layers.1.q").bytes()).isEqualTo(n * 256 * 2);
        assertThat(plan.get("layers.1.k").bytes()).isEqualTo(n * 128 * 2);
        assertThat(plan.get("layers.0.lse").bytes()).isEqualTo(2L * 4 * 64 * 4);
        assertThat(plan.get("layers.0.gate").bytes()).isEqualTo(n * 688 * 2);
        assertThat(plan.get("logits").bytes()).isEqualTo(n * 256 * 2);
        assertThat(plan.get("dq32").bytes()).isEqualTo(n * 256 * 4);
        assertThat(plan.get("dk32").bytes()).isEqualTo(n * 128 * 4);
        assertThat(plan.get("sumsq").bytes()).isEqualTo(8);
        assertThatThrownBy(() -> plan.get("layers.2.x")).hasMessageContaining("layers.2.x");
    }

    @Test
    void totalIsPerLayerSavedStateTimesLayersPlusOneSetOfSharedBuffers() {
        long n = 128, e = 256, f = 688, qw = 256, kvw = 128, v = 256;
        // q, att and att's rounding residual: 3 [N, qw] bf16
        long perLayer = 4 * n * e * 2 + 2 * n * 4 + 3 * n * qw * 2 + 2 * n * kvw * 2 + 2L * 4 * 64 * 4 + 3 * n * f * 2;
        long shared = 3 * n * e * 2 + n * 4 + n * v * 2 + 4 * n * 4 + 8 + 2 * n * e * 2 + n * f * 2 + n * qw * 2
                + n * qw * 4 + 2 * n * kvw * 4 + n * qw * 2 + 2 * n * kvw * 2;
        ActivationPlan plan = new ActivationPlan(SHAPE);
        assertThat(plan.totalBytes()).isEqualTo(2 * perLayer + shared);
        List<ActivationPlan.Buffer> all = plan.buffers();
        assertThat(new HashSet<>(all.stream().map(ActivationPlan.Buffer::name).toList())).hasSize(all.size());
        assertThat(all).allSatisfy(b -> assertThat(b.bytes()).isPositive());
        assertThat(all.stream().filter(b -> b.name().startsWith("layers.")).count()).isEqualTo(2 * 15);
    }
}
