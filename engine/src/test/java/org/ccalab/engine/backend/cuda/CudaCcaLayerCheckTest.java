package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** CudaCcaLayerCheck's bounds (no GPU): a measured plain bf16 error raises its case's cap and nothing else. */
class CudaCcaLayerCheckTest {
    private static CudaCcaLayerCheck.Entry entry(double noise) {
        return new CudaCcaLayerCheck.Entry(new CudaBenchCli.Err(0, 0), noise);
    }

    @Test
    void withoutAPlainErrorTheBoundIsTheNoiseAdaptiveOneUnderTheFixedCaps() {
        var none = CudaCcaLayerCheck.PlainBf16.NONE;
        assertThat(CudaCcaLayerCheck.tolerance("out", entry(0.5), none)).isEqualTo(CudaCcaLayerCheck.FORWARD_TOLERANCE);
        assertThat(CudaCcaLayerCheck.tolerance("dx", entry(1e-3), none)).isEqualTo(CudaCcaLayerCheck.GRADIENT_TOLERANCE);
        assertThat(CudaCcaLayerCheck.tolerance("q_proj.weight", entry(0.02), none)).isCloseTo(0.06, within(1e-12));
        assertThat(CudaCcaLayerCheck.tolerance("q_proj.weight", entry(0.3), none)).isEqualTo(CudaCcaLayerCheck.GRADIENT_CAP);
        assertThat(CudaCcaLayerCheck.tolerance("temp", entry(0.3), none)).isEqualTo(CudaCcaLayerCheck.TEMPERATURE_CAP);
        assertThat(CudaCcaLayerCheck.tolerance("temp", entry(0.3), none)).isEqualTo(CudaCcaLayerCheck.tolerance("temp", entry(0.3)));
    }

    @Test
    void theE2048CaseKeepsItsBoundsAtTheCaps() {
        var plain = new CudaCcaLayerCheck.PlainBf16(6.75e-2, 0.107);
        assertThat(CudaCcaLayerCheck.tolerance("conv_qk_depthwise.weight", entry(0.024), plain))
                .isCloseTo(CudaCcaLayerCheck.GRADIENT_CAP, within(1e-12));
        assertThat(CudaCcaLayerCheck.tolerance("temp", entry(0.037), plain)).isCloseTo(CudaCcaLayerCheck.TEMPERATURE_CAP, within(1e-12));
        assertThat(CudaCcaLayerCheck.tolerance("q_proj.weight", entry(0.3), plain)).isCloseTo(CudaCcaLayerCheck.GRADIENT_CAP, within(1e-12));
    }

    @Test
    void aPlainErrorOverTheCapsRaisesOnlyItsOwnGradientsBounds() {
        var plain = new CudaCcaLayerCheck.PlainBf16(0.864, 0.866);
        assertThat(CudaCcaLayerCheck.tolerance("k_proj.weight", entry(0.11), plain)).isCloseTo(1.728, within(1e-12));
        assertThat(CudaCcaLayerCheck.tolerance("conv_qk_grouped.bias", entry(0.2), plain)).isCloseTo(1.728, within(1e-12));
        assertThat(CudaCcaLayerCheck.tolerance("temp", entry(0.25), plain)).isCloseTo(1.732, within(1e-12));
        // out, dx and the value / output projections carry no plain figure: their usual bounds
        assertThat(CudaCcaLayerCheck.tolerance("out", entry(2e-3), plain)).isEqualTo(CudaCcaLayerCheck.FORWARD_TOLERANCE);
        assertThat(CudaCcaLayerCheck.tolerance("dx", entry(2e-3), plain)).isEqualTo(CudaCcaLayerCheck.GRADIENT_TOLERANCE);
        assertThat(CudaCcaLayerCheck.tolerance("o_proj.weight", entry(0.3), plain)).isEqualTo(CudaCcaLayerCheck.GRADIENT_CAP);
    }
}
