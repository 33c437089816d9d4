package org.ccalab.engine.backend.cuda.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.Stream;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.RopeSpec;
import org.ccalab.engine.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ModelShapeTest {
    static TrainingSpec spec(int batch, int seqLen) {
        return new TrainingSpec("recall", "bytes", 2, seqLen, batch, 10, 3e-3, 2, 0.1, 1.0, 5, 10, 0);
    }

    @Test
    void derivesEverySizeFromTheModelConfigAndTheBatch() {
        ModelConfig mc = new ModelConfig(new GqaConfig(512, 8, 2, new RopeSpec(0.5, 500)), 300, 3, 0);
        ModelShape s = ModelShape.of(mc, spec(4, 96));
        assertThat(s).isEqualTo(new ModelShape(4, 96, 512, 8, 2, 64, mc.mlpHidden(), 300, 3, 32, 500, mc.normEps()));
        assertThat(s.rows()).isEqualTo(384);
        assertThat(s.qWidth()).isEqualTo(512);
        assertThat(s.kvWidth()).isEqualTo(128);
        assertThat(s.hidden()).isEqualTo(1368); // 8/3 * 512 rounded up to a multiple of 8
    }

    /**
     * OVQ trains on the GPU: a pure OVQ model (NoPE), and the hybrid at any length (its SWA blocks, full RoPE from the
     * SWA shape, carry their window); a spec the kernels do not take is INVALID_CONFIG naming the field and the backend
     * that trains it.
     */
    @Test
    void ovqTrainsOnTheGpuWhereItsKernelsAllow() {
        var pure = new OvqConfig(256, 4, new org.ccalab.common.variant.OvqSpec(16, 40, 256, null, null, null, null, null, null,
                null, null, 0));
        GpuTrainer.requireSupported(pure);
        ModelShape p = ModelShape.of(new ModelConfig(pure, 256, 2, 0), spec(2, 64));
        assertThat(p.ovq()).isEqualTo(pure);
        assertThat(p.rotaryDims()).isZero();
        assertThat(p.ovqLayer(0)).isTrue();
        assertThat(p.qHeads()).isEqualTo(4);
        assertThat(p.kvHeads()).isEqualTo(4);
        var hybrid = new OvqConfig(256, 4); // swaWindow 512
        ModelShape h = ModelShape.of(new ModelConfig(hybrid, 256, 2, 0), spec(2, 512));
        assertThat(h.ovqLayer(0)).isFalse();
        assertThat(h.ovqLayer(1)).isTrue();
        assertThat(h.rotaryDims()).isEqualTo(64); // the SWA blocks' full RoPE
        assertThat(h.window(0)).isEqualTo(512);
        assertThat(h.window(1)).isZero();
        assertThat(p.window(0)).isZero();
        // past the window the SWA blocks run the flash kernels' windowed instances
        ModelShape longer = ModelShape.of(new ModelConfig(hybrid, 256, 4, 0), spec(2, 2048));
        assertThat(longer.window(2)).isEqualTo(512);
        assertThat(longer.window(3)).isZero();
        var longChunk = new OvqConfig(256, 4, new org.ccalab.common.variant.OvqSpec(128, 1024, 4096, null, null, null, null, null,
                null, null, null, 0));
        assertThatThrownBy(() -> ModelShape.of(new ModelConfig(longChunk, 256, 2, 0), spec(2, 256)))
                .isInstanceOfSatisfying(InvalidConfigException.class, e -> assertThat(e.field()).isEqualTo("variant.ovq.chunkLength"))
                .hasMessageContaining("engine.backend=cpu");
    }

    @Test
    void mhaIsGqaWithOneKvHeadPerQueryHeadAndMqaHasOne() {
        assertThat(ModelShape.of(new ModelConfig(new MhaConfig(256, 4), 256, 2, 0), spec(2, 64)).kvHeads()).isEqualTo(4);
        ModelShape mqa = ModelShape.of(new ModelConfig(new GqaConfig(256, 2, 1), 256, 2, 0), spec(2, 64));
        assertThat(mqa.kvHeads()).isEqualTo(1);
        assertThat(mqa.headDim()).isEqualTo(128);
        assertThat(mqa.rotaryDims()).isEqualTo(128); // RopeSpec.FULL, as GqaAttention applies it
        assertThat(mqa.ropeBase()).isEqualTo(10_000.0);
    }

    @Test
    void acceptsMlaWithCudaKernelsAndRefusesOneWithoutNamingTheMissingKernel() {
        MlaConfig m = new MlaConfig(256, 4, 0, 448, 32, 64, 64, 10_000, 1e-6);
        ModelShape s = ModelShape.of(new ModelConfig(m, 256, 2, 0), spec(2, 64));
        assertThat(s.mla()).isEqualTo(m);
        assertThat(s.cca()).isNull();
        assertThat(s.qHeads()).isEqualTo(4);
        assertThat(s.kvHeads()).isEqualTo(4);
        assertThat(s.headDim()).isEqualTo(64);  // the value head dim
        assertThat(s.rotaryDims()).isZero();    // the MLA layer rotates its own rope slices
        GpuTrainer.requireSupported(m);
        GpuTrainer.requireSupported(new MlaConfig(256, 4, 128, 448, 32, 64, 64, 10_000, 1e-6));
        // d_qk 128 / d_v 64 (head dim 64) has no mla_fwd / mla_bwd instance of its own and runs padded (session 13)
        GpuTrainer.requireSupported(MlaConfig.kvMatched(256, 4, 64));
        // r_kv 1024 has no decode kernel (exact: 448 / 512 / 960; padded: up to 960)
        MlaConfig none = new MlaConfig(256, 4, 0, 1024, 64, 64, 64, 10_000, 1e-6);
        assertThatThrownBy(() -> GpuTrainer.requireSupported(none)).isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("GPU training of MLA").hasMessageContaining("no mla_decode kernel for kvLoraRank 1024");
        assertThatThrownBy(() -> GpuTrainer.factory(null).requireSupported(new ModelConfig(none, 256, 2, 0), spec(2, 64)))
                .isInstanceOf(InvalidConfigException.class).hasMessageContaining("engine.backend=cpu");
    }

    @Test
    void acceptsCcaAndCcgqaWithTheirOwnHeadsConvsAndRope() {
        ModelShape cca = ModelShape.of(new ModelConfig(new CcaConfig(256, 2, 64), 256, 2, 0), spec(2, 64));
        assertThat(cca.cca()).isEqualTo(new CcaConfig(256, 2, 64).asGrouped());
        assertThat(cca.qHeads()).isEqualTo(2);
        assertThat(cca.kvHeads()).isEqualTo(2);
        assertThat(cca.headDim()).isEqualTo(64);
        assertThat(cca.rotaryDims()).isEqualTo(32); // cca.md's default: RoPE on half of each head
        ModelShape g = ModelShape.of(new ModelConfig(new CcgqaConfig(256, 4, 2, 64), 256, 2, 0), spec(2, 64));
        assertThat(g.cca()).isEqualTo(new CcgqaConfig(256, 4, 2, 64));
        assertThat(g.qWidth()).isEqualTo(256);
        assertThat(g.kvWidth()).isEqualTo(128);
        GpuTrainer.requireSupported(new CcaConfig(256, 2, 64));
        GpuTrainer.factory(null).requireSupported(new ModelConfig(new CcgqaConfig(256, 4, 1, 64), 256, 2, 0), spec(2, 64));
        assertThat(ModelShape.of(new ModelConfig(new MhaConfig(256, 4), 256, 2, 0), spec(2, 64)).cca()).isNull();
        // CCA needs the flash backward's head dims too: 64, 128 or 256 (the CCA layer's D = 256 kernels); MHA/GQA 64 or 128
        assertThatThrownBy(() -> ModelShape.of(new ModelConfig(new CcgqaConfig(256, 8, 8, 32), 256, 2, 0), spec(2, 64)))
                .isInstanceOf(InvalidConfigException.class).hasMessageContaining("head dim");
        assertThat(ModelShape.of(new ModelConfig(new CcaConfig(512, 2, 256), 256, 2, 0), spec(2, 64)).headDim()).isEqualTo(256);
        assertThat(ModelShape.of(new ModelConfig(new CcgqaConfig(1024, 4, 1, 256), 256, 2, 0), spec(2, 64)).cca().headDim())
                .isEqualTo(256);
        assertThatThrownBy(() -> ModelShape.of(new ModelConfig(new GqaConfig(512, 2, 1), 256, 2, 0), spec(2, 64)))
                .isInstanceOf(InvalidConfigException.class).hasMessageContaining("head dim").hasMessageContaining("256");
    }

    @Test
    void acceptsMhaGqaAndMqaBeforeAnyDeviceIsNeeded() {
        for (AttentionConfig v : new AttentionConfig[] {new MhaConfig(512, 4), new GqaConfig(512, 8, 2), new GqaConfig(512, 4, 1)})
            GpuTrainer.factory(null).requireSupported(new ModelConfig(v, 256, 2, 0), spec(2, 64));
    }

    @Test
    void refusesHeadDimsWithoutFlashKernelsAndUnalignedWidths() {
        assertThatThrownBy(() -> ModelShape.of(new ModelConfig(new MhaConfig(64, 4), 256, 2, 0), spec(2, 64)))
                .isInstanceOf(InvalidConfigException.class).hasMessageContaining("head dim").hasMessageContaining("16");
        assertThatThrownBy(() -> new ModelShape(1, 8, 132, 2, 2, 64, 64, 10, 1, 64, 1e4, 1e-6))
                .isInstanceOf(InvalidConfigException.class).hasMessageContaining("multiple of 8");
    }

    @Test
    void refusesBuffersBeyondIntIndexing() {
        assertThatThrownBy(() -> new ModelShape(1024, 65_536, 512, 8, 8, 64, 1368, 50_304, 1, 64, 1e4, 1e-6))
                .isInstanceOf(InvalidConfigException.class).hasMessageContaining("int indexing");
    }
}
