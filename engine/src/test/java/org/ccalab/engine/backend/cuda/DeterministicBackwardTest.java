package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.function.IntFunction;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.Scope;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CompressedConvSpec;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.junit.jupiter.api.Test;

/** Which runs the CUDA engine refuses a deterministic backward, decided without a GPU (CI has none). */
class DeterministicBackwardTest {
    private static final IntFunction<CudaKernels.BwdVariant> SM90A = d -> CudaKernels.backwardVariant(d, true);
    private static final IntFunction<CudaKernels.BwdVariant> AMPERE = d -> CudaKernels.backwardVariant(d, false);

    private static RunSpec bench(AttentionConfig v, List<Phase> phases, List<Scope> scopes) {
        return new RunSpec(RunKind.BENCHMARK, v, 0, new BenchmarkSpec(1, 128, phases, scopes, null, null, null, null, true), null);
    }

    private static RunSpec train(AttentionConfig v) {
        return new RunSpec(RunKind.TRAINING, v, 0, null,
                new TrainingSpec(null, null, null, null, null, 10, null, null, null, null, null, null, null, true));
    }

    @Test
    void shouldAcceptMhaAndGqaAtTheHeadDimsWithAnOrderedAddKernelOnSm90a() {
        assertThat(DeterministicBackward.refusal(train(new MhaConfig(256, 4)), SM90A)).isNull();          // D = 64
        assertThat(DeterministicBackward.refusal(train(new GqaConfig(512, 4, 2)), SM90A)).isNull();      // D = 128
        assertThat(DeterministicBackward.refusal(bench(new MhaConfig(512, 4), List.of(Phase.BACKWARD), null), SM90A)).isNull();
        assertThat(DeterministicBackward.refusal(train(new MhaConfig(1024, 4)), SM90A)).isNull();        // D = 256
        assertThat(DeterministicBackward.deterministicHeadDims()).containsExactly(64, 128, 256);
    }

    @Test
    void shouldAcceptHeadDims64And128OnTheMmaSyncKernelsToo() {
        // session 17: the mma.sync backward has ordered-add instances at D = 64 and 128 (any device)
        assertThat(DeterministicBackward.refusal(train(new MhaConfig(256, 4)), AMPERE)).isNull();        // D = 64
        assertThat(DeterministicBackward.refusal(train(new GqaConfig(512, 4, 2)), AMPERE)).isNull();    // D = 128
        assertThat(DeterministicBackward.deterministicHeadDims(CudaKernels.BwdVariant.MMA)).containsExactly(64, 128);
    }

    @Test
    void shouldRefuseAHeadDimOrADeviceWithoutOneNamingTheHeadDimAndKernel() {
        assertThat(DeterministicBackward.refusal(train(new MhaConfig(1024, 4)), AMPERE))
                .contains("deterministic=true", "head dim 256", "mma.sync", "64, 128, 256", "cpu worker");
        // a head dim with no wgmma backward at all (96) is refused on the sm_90a image too
        assertThat(DeterministicBackward.refusal(train(new MhaConfig(384, 4)), SM90A)).contains("head dim 96");
    }

    @Test
    void shouldAcceptMlaAndCcaWhereTheirCoreHasADeterministicFlashBackward() {
        MlaConfig mla = MlaConfig.kvMatched(512, 4, 448);  // d_qk 192 / d_v 128: the wgmma kernel's "_det" twin
        assertThat(mla.qkHeadDim()).isEqualTo(192);
        assertThat(DeterministicBackward.refusal(train(mla), SM90A)).isNull();
        assertThat(DeterministicBackward.refusal(bench(mla, List.of(Phase.BACKWARD), List.of(Scope.CORE)), SM90A)).isNull();
        assertThat(DeterministicBackward.refusal(train(mla), AMPERE)).contains("MLA", "fp32 atomics", "mma.sync");
        // d_qk 96 / d_v 64: its own kernel is mma.sync only, so a deterministic run takes the padded path (session 13):
        // the flash backward at head dim 128, whose wgmma kernel has an ordered-add instance; as does head dim 64's
        // d_qk 128 / d_v 64, which has no MLA kernel of its own
        MlaConfig small = new MlaConfig(256, 4, 0, 448, 32, 64, 64, 10_000.0, 1e-6);
        assertThat(DeterministicBackward.refusal(train(small), SM90A)).isNull();
        assertThat(DeterministicBackward.refusal(train(MlaConfig.kvMatched(256, 4, 128)), SM90A)).isNull();
        // since session 17 the mma.sync flash backward orders its adds at head dims 64 and 128 too, so both pad there
        // on any device; d_qk 192 / d_v 128 (its own mma.sync kernel, or padded to 256) has none there
        assertThat(DeterministicBackward.refusal(train(small), AMPERE)).isNull();
        assertThat(DeterministicBackward.refusal(train(MlaConfig.kvMatched(256, 4, 128)), AMPERE)).isNull();
        assertThat(DeterministicBackward.refusal(train(mla), AMPERE)).contains("mla_bwd_qk192_v128_causal", "[64, 128] on every device");

        // the CCA prologue backward sums in a fixed order (session 12): CCA training and the BACKWARD/LAYER cell need
        // only the latent core's flash backward to have an ordered-add kernel
        CcaConfig cca = new CcaConfig(512, 4, 64, CompressedConvSpec.DEFAULT);
        assertThat(cca.headDim()).isEqualTo(64);
        assertThat(DeterministicBackward.refusal(train(cca), SM90A)).isNull();
        assertThat(DeterministicBackward.refusal(bench(cca, List.of(Phase.BACKWARD), null), SM90A)).isNull();
        assertThat(DeterministicBackward.refusal(bench(cca, List.of(Phase.BACKWARD), List.of(Scope.CORE)), SM90A)).isNull();
        assertThat(DeterministicBackward.refusal(train(cca), AMPERE)).isNull(); // session 17: mma.sync orders its adds
        CcaConfig cca256 = new CcaConfig(1024, 4, 256, CompressedConvSpec.DEFAULT);
        assertThat(DeterministicBackward.refusal(train(cca256), AMPERE)).contains("head dim 256", "mma.sync");
    }

    @Test
    void shouldAcceptABenchmarkWithoutTheBackwardPhaseWhateverTheVariant() {
        MlaConfig mla = MlaConfig.kvMatched(512, 4, 448);
        assertThat(DeterministicBackward.refusal(bench(mla, List.of(Phase.FORWARD, Phase.DECODE), null), AMPERE)).isNull();
    }
}
