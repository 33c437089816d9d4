package org.ccalab.common.variant.cost;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.stream.Stream;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.CompressedConvSpec;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class CostModelTest {
    private static final int E = 2048;
    private static final int S = 16_384;

    private static double tflop(long flops) {
        return flops / 1e12;
    }

    /** cca.md section 6 worked example; CCA/CCGQA numbers there leave the conv term out. */
    @Test
    void shouldReproduceWorkedExampleOfCcaSpec() {
        assertThat(tflop(CostModel.prefillFlops(new MhaConfig(E, 16), S))).isCloseTo(2.749, within(5e-4));
        assertThat(tflop(CostModel.prefillFlops(new GqaConfig(E, 16, 4), S))).isCloseTo(2.543, within(5e-4));
        assertThat(tflop(CostModel.prefillFlops(new GqaConfig(E, 16, 2), S))).isCloseTo(2.508, within(5e-4));
        assertThat(tflop(withoutConv(new CcaConfig(E, 4, 128)))).isCloseTo(0.687, within(5e-4));
        assertThat(tflop(withoutConv(new CcaConfig(E, 2, 128)))).isCloseTo(0.344, within(5e-4));
        assertThat(tflop(withoutConv(new CcgqaConfig(E, 8, 2, 128)))).isCloseTo(1.271, within(5e-4));
    }

    private static long withoutConv(AttentionConfig c) {
        CostEstimate e = CostModel.estimate(c, S, 2);
        return e.prefillFlops() - e.prefillConvFlops();
    }

    /** The exact conv count of cca.md section 6: 2 S (C_qk k0 + (n_q + n_kv) d^2 k1). */
    @Test
    void shouldCountConvFlopsAndParametersExactly() {
        CcgqaConfig zaya = new CcgqaConfig(E, 8, 2, 128);
        long convWeights = 1280L * 2 + 10L * 128 * 128 * 2;
        assertThat(convWeights).isEqualTo(330_240L);
        assertThat(CostModel.estimate(zaya, S, 2).prefillConvFlops()).isEqualTo(2L * S * convWeights);
        // Projections 5,242,880 + conv 330,240 + conv biases 2,560 + 2 temperatures.
        assertThat(CostModel.linearWeights(zaya)).isEqualTo(5_242_880L);
        assertThat(CostModel.parameters(zaya)).isEqualTo(5_242_880L + 330_240L + 2_560L + 2L);
    }

    static Stream<Arguments> mlaTable() {
        MlaConfig mla4 = MlaConfig.kvMatched(E, 16, 960);
        MlaConfig mla8 = MlaConfig.kvMatched(E, 16, 448);
        return Stream.of(
                Arguments.of("MLA-4", mla4, 1024, 16_516_032L, 3.290),
                Arguments.of("MLA-4q", withQ(mla4), 1024, 15_468_480L, 3.256),
                Arguments.of("MLA-8", mla8, 512, 13_369_792L, 3.187),
                Arguments.of("MLA-8q", withQ(mla8), 512, 12_322_240L, 3.153),
                Arguments.of("V2-Lite", MlaConfig.kvMatched(E, 16, 512), 576, 13_763_072L, 3.200),
                Arguments.of("MHA", new MhaConfig(E, 16), 4096, 16_777_216L, 2.749),
                Arguments.of("GQA-4", new GqaConfig(E, 16, 4), 1024, 10_485_760L, 2.543),
                Arguments.of("GQA-8", new GqaConfig(E, 16, 2), 512, 9_437_184L, 2.508));
    }

    private static MlaConfig withQ(MlaConfig m) {
        return new MlaConfig(m.dModel(), m.nHeads(), 1024, m.kvLoraRank(), m.qkNopeHeadDim(), m.qkRopeHeadDim(),
                m.vHeadDim(), m.ropeBase(), m.normEps());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("mlaTable")
    void shouldMatchMlaSpecTable(String name, AttentionConfig c, int cacheElements, long params, double tflop) {
        assertThat(CostModel.parameters(c)).isEqualTo(params);
        assertThat(CostModel.kvCacheBytesPerToken(c, 2)).isEqualTo(2L * cacheElements);
        assertThat(tflop(CostModel.prefillFlops(c, S))).isCloseTo(tflop, within(5e-4));
    }

    /** mla.md section 6: decode per token at L = 16,384 (MFLOP) and cache bytes read. */
    @Test
    void shouldMatchMlaDecodeNumbers() {
        CostEstimate mla4 = CostModel.estimate(MlaConfig.kvMatched(E, 16, 960), S, 2);
        assertThat(mla4.decodeFlops() / 1e6).isCloseTo(1073, within(0.5));
        assertThat(mla4.decodeCacheBytesRead() / 1e6).isCloseTo(33.6, within(0.05));
        CostEstimate mla8 = CostModel.estimate(MlaConfig.kvMatched(E, 16, 448), S, 2);
        assertThat(mla8.decodeFlops() / 1e6).isCloseTo(530, within(0.5));
        CostEstimate mha = CostModel.estimate(new MhaConfig(E, 16), S, 2);
        assertThat(mha.decodeFlops() / 1e6).isCloseTo(167.8, within(0.05));
        assertThat(mha.decodeCacheBytesRead() / 1e6).isCloseTo(134.2, within(0.05));
        // Table II: 8E^2 + 4ES for MHA.
        assertThat(mha.decodeFlops()).isEqualTo(8L * E * E + 4L * E * S);
    }

    static Stream<Integer> compressions() {
        return Stream.of(2, 4, 8, 16);
    }

    /** The paper's claim: CCA at compression C cuts KV cache, projection parameters and attention FLOPs by C. */
    @ParameterizedTest(name = "C = {0}")
    @MethodSource("compressions")
    void shouldCutCostsByCompressionFactorAgainstMha(int c) {
        MhaConfig mha = new MhaConfig(E, 16);
        CcaConfig cca = new CcaConfig(E, 16 / c, 128);
        assertThat(cca.compression()).isEqualTo(c);
        CostEstimate m = CostModel.estimate(mha, S, 2), k = CostModel.estimate(cca, S, 2);
        assertThat(m.kvCacheBytesPerToken()).isEqualTo(c * k.kvCacheBytesPerToken());
        assertThat(CostModel.linearWeights(mha)).isEqualTo(c * CostModel.linearWeights(cca));
        assertThat(m.prefillAttentionFlops()).isEqualTo(c * k.prefillAttentionFlops());
        // Table II forward, CCA row: (2/C) 4SE^2 + 4ES^2/C + conv.
        long tableII = (8L * S * E * E + 4L * E * S * (long) S) / c + k.prefillConvFlops();
        assertThat(k.prefillFlops()).isEqualTo(tableII);
    }

    @Test
    void shouldFollowTableIIForGqaAndCcgqa() {
        GqaConfig gqa = new GqaConfig(E, 16, 4); // G = 4
        assertThat(CostModel.parameters(gqa)).isEqualTo(2L * E * E + 2L * E * E / 4);
        assertThat(CostModel.prefillFlops(gqa, S)).isEqualTo((4L * S * E * E * 5) / 4 + 4L * E * S * (long) S);
        assertThat(CostModel.decodeFlops(gqa, S)).isEqualTo((4L * E * E * 5) / 4 + 4L * E * S);
        CcgqaConfig c = new CcgqaConfig(E, 8, 2, 128); // C1 = 2, C2 = 8
        CostEstimate k = CostModel.estimate(c, S, 2);
        assertThat(CostModel.linearWeights(c)).isEqualTo(2L * E * E / 2 + 2L * E * E / 8);
        assertThat(k.kvCacheBytesPerToken()).isEqualTo(2L * (2L * E / 8));
        assertThat(k.prefillAttentionFlops()).isEqualTo(4L * E * S * (long) S / 2);
        long convPerToken = 2L * (1280 * 2 + 10 * 128 * 128 * 2);
        assertThat(k.decodeFlops()).isEqualTo(4L * E * E * 5 / 8 + 4L * E * S / 2 + convPerToken);
    }

    @Test
    void shouldCountCausalPrefillExactly() {
        MhaConfig mha = new MhaConfig(64, 4);
        // S = 3: query t sees t + 1 keys, 6 pairs; each pair costs 2 * 64 (scores) + 2 * 64 (values).
        long projections = 2L * 4 * 64 * 64 * 3;
        assertThat(CostModel.prefillFlopsCausal(mha, 3)).isEqualTo(projections + 6L * 4 * 64);
        assertThat(CostModel.prefillFlops(mha, 3)).isEqualTo(projections + 9L * 4 * 64);
        MlaConfig mla = MlaConfig.kvMatched(E, 16, 960);
        CostEstimate e = CostModel.estimate(mla, S, 2);
        assertThat(e.prefillFlops() - e.prefillFlopsCausal())
                .isEqualTo(16L * 320 * (2L * S * S - (long) S * (S + 1)));
    }

    /** cca.md section 3: ZAYA1 bf16 state 2*1280*2 + 128*2 = 5,376 B; KV 1,024 B/token vs 8,192 for MHA. */
    @Test
    void shouldSizeDecodeStateAsSpec() {
        CcgqaConfig zaya = new CcgqaConfig(E, 8, 2, 128);
        assertThat(CostModel.decodeStateBytes(zaya, 2)).isEqualTo(5_376L);
        assertThat(CostModel.kvCacheBytesPerToken(zaya, 2)).isEqualTo(1_024L);
        assertThat(CostModel.kvCacheBytesPerToken(new MhaConfig(E, 16), 2)).isEqualTo(8_192L);
        assertThat(CostModel.decodeStateBytes(new MhaConfig(E, 16), 2)).isZero();
        CompressedConvSpec noShift = new CompressedConvSpec(3, 2, null, KeyTemperature.LINEAR, null, true, false);
        // P = 3 raw columns and no delayed projection.
        assertThat(CostModel.decodeStateBytes(new CcgqaConfig(E, 8, 2, 128, noShift), 4)).isEqualTo(3L * 1280 * 4);
    }

    @Test
    void shouldRefuseBadArgumentsNamingThem() {
        assertThatThrownBy(() -> CostModel.estimate(new MhaConfig(E, 16), 0, 2))
                .isInstanceOf(InvalidConfigException.class).hasMessageStartingWith("seqLen");
        assertThatThrownBy(() -> CostModel.estimate(new MhaConfig(E, 16), 16, 0))
                .isInstanceOf(InvalidConfigException.class).hasMessageStartingWith("dtypeBytes");
    }
}
