package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.ccalab.common.run.Phase;
import org.ccalab.common.run.Scope;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.run.RecordingObserver;
import org.ccalab.common.variant.cost.CostModel;
import org.junit.jupiter.api.Test;

/** The CUDA benchmark run's cell coverage, FLOP and byte conventions, checked without a GPU. */
class CudaBenchmarkRunTest {
    private static final int T = 4096;

    @Test
    void backwardCellsExistWhereABackwardKernelDoesAndEveryOtherPhaseForAll() {
        for (var c : new Object[] {new MhaConfig(2048, 16), new GqaConfig(2048, 32, 8), new CcaConfig(2048, 4, 128),
                new CcgqaConfig(2048, 4, 1, 128), new CcgqaConfig(2048, 8, 2, 64)}) {
            var shape = CudaBenchmarkRun.Shape.of((org.ccalab.common.variant.AttentionConfig) c);
            for (Phase p : Phase.values())
                for (Scope s : Scope.values()) assertThat(CudaBenchmarkRun.covers(shape, p, s)).as(c + " " + p + "/" + s).isTrue();
        }
        var d256 = CudaBenchmarkRun.Shape.of(new MhaConfig(2048, 8));
        assertThat(d256.headDim()).isEqualTo(256);
        // D = 256 has a flash backward (flash_bwd_wide) and the CCA prologue backward (cca_bwd_head_hd256)
        var cca256 = CudaBenchmarkRun.Shape.of(new CcgqaConfig(2048, 2, 2, 256));
        assertThat(cca256.headDim()).isEqualTo(256);
        for (Scope s : Scope.values()) {
            assertThat(CudaBenchmarkRun.covers(d256, Phase.BACKWARD, s)).isTrue();
            assertThat(CudaBenchmarkRun.covers(cca256, Phase.BACKWARD, s)).isTrue();
            assertThat(CudaBenchmarkRun.covers(cca256, Phase.FORWARD, s)).isTrue();
            assertThat(CudaBenchmarkRun.covers(cca256, Phase.DECODE, s)).isTrue();
            assertThat(CudaBenchmarkRun.covers(d256, Phase.FORWARD, s)).isTrue();
            assertThat(CudaBenchmarkRun.covers(d256, Phase.DECODE, s)).isTrue();
        }
        // the CCA decode step implements the value shift: its ablation has a decode core cell but no layer cell
        var noShift = CudaBenchmarkRun.Shape.of(new CcgqaConfig(2048, 4, 2, 128,
                new org.ccalab.common.variant.CompressedConvSpec(null, null, null, null, null, null, false)));
        assertThat(CudaBenchmarkRun.covers(noShift, Phase.DECODE, Scope.CORE)).isTrue();
        assertThat(CudaBenchmarkRun.covers(noShift, Phase.DECODE, Scope.LAYER)).isFalse();
        assertThat(CudaBenchmarkRun.covers(noShift, Phase.BACKWARD, Scope.LAYER)).isTrue();
    }

    /**
     * An OVQ config the CUDA kernels do not cover fails as INVALID_CONFIG naming the field, before the run touches the
     * device (the backend handed in is null here, as on a host without a GPU): head dim 96, a 128-token chunk.
     */
    @Test
    void ovqBenchmarkOutsideTheKernelsIsRefusedNamingTheFieldBeforeTheDeviceIsUsed() {
        var headDim96 = new OvqConfig(384, 4);
        var chunk128 = new OvqConfig(256, 4, new OvqSpec(128, 1024, 4096, null, null, null, null, null, null, null, null, 0));
        for (var c : new Object[][] {{headDim96, "variant.headDim"}, {chunk128, "variant.ovq.chunkLength"}}) {
            RunSpec spec = new RunSpec(RunKind.BENCHMARK, (OvqConfig) c[0], 1,
                    new BenchmarkSpec(1, 128, null, null, null, "bf16", 1, 3), null);
            assertThatThrownBy(() -> new CudaBenchmarkRun(null, spec, new RecordingObserver()))
                    .isInstanceOfSatisfying(InvalidConfigException.class, e -> assertThat(e.field()).isEqualTo(c[1]))
                    .hasMessageContaining("CUDA OVQ kernels");
        }
    }

    @Test
    void mhaFlopsFollowTheFlashConventions() {
        var mha = new MhaConfig(2048, 16);  // 16 x 128
        double pairs = (double) T * (T + 1) / 2, attnCausal = 4.0 * 16 * 128 * pairs;  // QK^T and PV, 2 FLOPs per MAC
        double weights = 2.0 * 4 * 2048 * 2048 * T;                                    // q, k, v, o: E x E each
        assertThat(CudaBenchmarkRun.flops(mha, Phase.FORWARD, Scope.CORE, T, true)).isCloseTo(attnCausal, within(1.0));
        assertThat(CudaBenchmarkRun.flops(mha, Phase.FORWARD, Scope.CORE, T, false)).isCloseTo(4.0 * 16 * 128 * T * T, within(1.0));
        assertThat(CudaBenchmarkRun.flops(mha, Phase.FORWARD, Scope.LAYER, T, true)).isCloseTo(weights + attnCausal, within(1.0));
        assertThat(CudaBenchmarkRun.flops(mha, Phase.BACKWARD, Scope.CORE, T, true)).isCloseTo(2.5 * attnCausal, within(1.0));
        assertThat(CudaBenchmarkRun.flops(mha, Phase.BACKWARD, Scope.LAYER, T, true))
                .isCloseTo(2 * weights + 2.5 * attnCausal, within(1.0));
        // decode: the core is the attention over the cache (QK and PV: 4 H D per key), the layer adds 2W
        assertThat(CudaBenchmarkRun.flops(mha, Phase.DECODE, Scope.CORE, T, true)).isCloseTo(4.0 * 16 * 128 * T, within(1.0));
        assertThat(CudaBenchmarkRun.flops(mha, Phase.DECODE, Scope.LAYER, T, true))
                .isCloseTo(2.0 * 4 * 2048 * 2048 + 4.0 * 16 * 128 * T, within(1.0));
    }

    @Test
    void ccaLayerFlopsCountTheConvsAndTheLatentAttention() {
        var cca = new CcgqaConfig(2048, 4, 2, 128);  // Dq 512, Dk 256, C 768, k0 = k1 = 2
        double linear = 2.0 * (512 + 256 + 256 + 512) * 2048, conv = 2.0 * (768 * 2 + 768 * 128 * 2);
        double attnCausal = 4.0 * 4 * 128 * ((double) T * (T + 1) / 2);
        assertThat(CudaBenchmarkRun.flops(cca, Phase.BACKWARD, Scope.CORE, T, true)).isCloseTo(2.5 * attnCausal, within(1.0));
        assertThat(CudaBenchmarkRun.flops(cca, Phase.BACKWARD, Scope.LAYER, T, true))
                .isCloseTo(2 * (linear + conv) * T + 2.5 * attnCausal, within(1.0));
        assertThat(CudaBenchmarkRun.flops(cca, Phase.DECODE, Scope.LAYER, T, true))
                .isCloseTo(CostModel.decodeFlops(cca, T), within(1.0)).isCloseTo(linear + conv + 4.0 * 4 * 128 * T, within(1.0));
    }

    @Test
    void bytesCountTheKvCacheForDecodeAndActivationsPlusWeightsForLayers() {
        var cfg = new CcgqaConfig(2048, 4, 2, 128);
        var shape = CudaBenchmarkRun.Shape.of(cfg);
        long kv = CostModel.kvCacheBytesPerToken(cfg, 2), w = CostModel.linearWeights(cfg);
        assertThat(kv).isEqualTo(2L * 2 * 128 * 2);
        assertThat(CudaBenchmarkRun.bytes(shape, w, Phase.DECODE, Scope.LAYER, T, kv)).isEqualTo((double) T * kv);
        double q = T * 512.0, k = T * 256.0;
        assertThat(CudaBenchmarkRun.bytes(shape, w, Phase.BACKWARD, Scope.CORE, T, kv)).isEqualTo(2 * (3 * q + 2 * k) + 4 * (q + 2 * k));
        assertThat(CudaBenchmarkRun.bytes(shape, w, Phase.BACKWARD, Scope.LAYER, T, kv))
                .isEqualTo(2 * (3 * q + 2 * k) + 4 * (q + 2 * k) + 4.0 * T * 2048 + 10.0 * w);
    }
}
