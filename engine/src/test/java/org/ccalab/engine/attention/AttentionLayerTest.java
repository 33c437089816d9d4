package org.ccalab.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.CompressedConvSpec;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.OvqAssignment;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqGrowth;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.variant.OvqUpdate;
import org.ccalab.common.variant.RopeSpec;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every variant through the same contract: gradients, decode = prefill, determinism, parameter count. */
class AttentionLayerTest {
    static Stream<Arguments> configs() {
        return Stream.of(
                Arguments.of("MHA full RoPE", new MhaConfig(16, 4)),
                Arguments.of("MHA no RoPE", new MhaConfig(16, 2, new RopeSpec(0, 10_000))),
                Arguments.of("GQA 4q/2kv half RoPE", new GqaConfig(16, 4, 2, RopeSpec.HALF)),
                Arguments.of("MQA 4q/1kv", new GqaConfig(24, 4, 1, new RopeSpec(1, 100))),
                Arguments.of("CCA 2 heads x 4, exp temperature", new CcaConfig(16, 2, 4)),
                Arguments.of("CCA k0=3 k1=2 linear temperature, full RoPE",
                        new CcaConfig(16, 2, 4, conv(3, 2, new RopeSpec(1, 500), KeyTemperature.LINEAR, true, true))),
                Arguments.of("CCGQA 4q/2kv k0=1 k1=3 clamped temperature",
                        new CcgqaConfig(32, 4, 2, 4, conv(1, 3, RopeSpec.HALF, KeyTemperature.CLAMPED_EXP, true, true))),
                Arguments.of("CCGQA 4q/1kv odd value split, no RoPE",
                        new CcgqaConfig(24, 4, 1, 6, conv(2, 2, new RopeSpec(0, 1e4), KeyTemperature.EXP, true, true))),
                Arguments.of("CCGQA ablation: no q-k mean", new CcgqaConfig(32, 4, 2, 4, conv(2, 2, null, null, false, true))),
                Arguments.of("CCGQA ablation: no value shift, odd Dk",
                        new CcgqaConfig(30, 2, 1, 5, conv(2, 2, null, null, true, false))),
                Arguments.of("CCA no convs (k0 = k1 = 1)", new CcaConfig(16, 2, 4, conv(1, 1, null, null, true, true))),
                Arguments.of("MLA direct query", new MlaConfig(16, 2, 0, 6, 4, 4, 3, 10_000, 1e-6)),
                Arguments.of("MLA low-rank query", new MlaConfig(16, 3, 5, 7, 2, 6, 4, 500, 1e-6)),
                Arguments.of("MLA no rope slice", new MlaConfig(16, 2, 4, 6, 4, 0, 4, 10_000, 1e-6)),
                Arguments.of("MLA rope only (no nope dims)", new MlaConfig(16, 2, 0, 5, 0, 4, 3, 10_000, 1e-6)),
                // OVQ: chunks and dictionaries small enough that 5-19 tokens fold, grow, fill N_max and update.
                Arguments.of("OVQ L=2 N=4 log growth, learnt beta", new OvqConfig(16, 2,
                        new OvqSpec(2, 4, 8, OvqGrowth.LOG, null, null, null, null, null, null, null, null))),
                Arguments.of("OVQ L=3 N=3 linear growth, dot assignment, constant rate, renormalised, fixed beta",
                        new OvqConfig(16, 2, new OvqSpec(3, 3, 6, OvqGrowth.LINEAR, OvqAssignment.DOT,
                                OvqUpdate.CONSTANT, 0.3, false, true, false, true, null))),
                Arguments.of("OVQ L=1 N=5, dot assignment", new OvqConfig(12, 3,
                        new OvqSpec(1, 5, 10, OvqGrowth.LOG, OvqAssignment.DOT, null, null, null, null, null, null, null))));
    }

    private static CompressedConvSpec conv(int k0, int k1, RopeSpec rope, KeyTemperature temp, boolean qkMean,
                                           boolean valueShift) {
        return new CompressedConvSpec(k0, k1, rope, temp, 1e-12, qkMean, valueShift);
    }

    private static AttentionLayer layer(AttentionConfig c) {
        AttentionLayer l = AttentionLayers.create(c, new SplittableRandom(7));
        LayerChecks.scrambleParameters(l, 8);
        return l;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldMatchFiniteDifferenceGradients(String name, AttentionConfig config) {
        assertThat(LayerChecks.checkGradients(layer(config), 2, 5, 1)).isPositive();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldDecodeLikePrefill(String name, AttentionConfig config) {
        LayerChecks.checkDecodeEqualsPrefill(layer(config), 2, 19, 2);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldInitDeterministicallyWithCostModelParameterCount(String name, AttentionConfig config) {
        AttentionLayer a = AttentionLayers.create(config, new SplittableRandom(3));
        AttentionLayer b = AttentionLayers.create(config, new SplittableRandom(3));
        long count = 0;
        for (int i = 0; i < a.parameters().size(); i++) {
            assertThat(a.parameters().get(i).value().data()).isEqualTo(b.parameters().get(i).value().data());
            count += a.parameters().get(i).value().length();
        }
        assertThat(count).isEqualTo(CostModel.parameters(config));
    }

    /** Chunked prefill into a decode state gives the prefill outputs, and decoding continues from it. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldPrefillInChunksLikeOnePrefill(String name, AttentionConfig config) {
        AttentionLayer l = layer(config);
        int e = config.dModel(), b = 2;
        int[] chunks = {3, 1, 5, 2};
        int total = 11;
        Tensor x = LayerChecks.randn(new SplittableRandom(9), 1, b, total, e);
        double[] y = l.forward(x).output().data();
        DecodeState s = l.newDecodeState(b);
        int start = 0;
        for (int c : chunks) {
            double[] chunk = new double[b * c * e];
            for (int i = 0; i < b; i++) System.arraycopy(x.data(), (i * total + start) * e, chunk, i * c * e, c * e);
            double[] out = l.prefill(s, Tensor.wrap(chunk, b, c, e)).data();
            for (int i = 0; i < b; i++)
                for (int j = 0; j < c * e; j++)
                    assertThat(out[i * c * e + j]).as("chunk at %d, b=%d", start, i)
                            .isCloseTo(y[(i * total + start) * e + j], within(1e-12));
            start += c;
            assertThat(s.position()).isEqualTo(start);
        }
    }

    /** One writer per output element with a fixed summation order: any thread count gives the same bits. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldGiveBitIdenticalResultsForAnyThreadCount(String name, AttentionConfig config) {
        double[][] first = null;
        for (int threads : new int[] {1, 3}) {
            java.util.concurrent.ForkJoinPool pool = new java.util.concurrent.ForkJoinPool(threads);
            try {
                AttentionLayer l = AttentionLayers.create(config, new SplittableRandom(7),
                        new org.ccalab.engine.backend.cpu.CpuBackend(pool));
                LayerChecks.scrambleParameters(l, 8);
                // 2 x 70 tokens: more than one 64-row attention block and more than one matmul tile.
                Tensor x = LayerChecks.randn(new SplittableRandom(5), 1, 2, 70, config.dModel());
                ForwardPass p = l.forward(x);
                double[] dx = l.backward(p, x).data();
                double[][] got = new double[2 + l.parameters().size()][];
                got[0] = p.output().data();
                got[1] = dx;
                for (int i = 0; i < l.parameters().size(); i++) got[2 + i] = l.parameters().get(i).grad().data();
                if (first == null) first = got;
                else for (int i = 0; i < got.length; i++) assertThat(got[i]).as("result %d", i).isEqualTo(first[i]);
            } finally {
                pool.shutdown();
            }
        }
    }

    /**
     * The decode state holds exactly what the cost model says: T tokens of KV plus the constant state. OVQ has
     * no KV cache and its state grows with the dictionary up to a bound: the cost model's state after T tokens,
     * never above its full-dictionary decodeStateBytes.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldHoldDecodeStateOfCostModelSize(String name, AttentionConfig config) {
        AttentionLayer l = layer(config);
        DecodeState s = l.newDecodeState(3);
        for (int t = 0; t < 5; t++) l.decode(s, LayerChecks.randn(new SplittableRandom(t), 1, 3, config.dModel()));
        if (config instanceof OvqConfig) {
            assertThat(s.bytes(2)).isEqualTo(3 * CostModel.estimate(config, 5, 2).decodeStateBytes())
                    .isPositive().isLessThanOrEqualTo(3 * CostModel.decodeStateBytes(config, 2));
            return;
        }
        assertThat(s.bytes(2)).isEqualTo(3 * (5 * CostModel.kvCacheBytesPerToken(config, 2)
                + CostModel.decodeStateBytes(config, 2)));
    }

    /** Sequences of a batch never see each other (conv padding and value shift restart per sequence). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldKeepSequencesOfABatchIndependent(String name, AttentionConfig config) {
        AttentionLayer l = layer(config);
        int e = config.dModel(), t = 5;
        Tensor both = LayerChecks.randn(new SplittableRandom(6), 1, 2, t, e);
        double[] y = l.forward(both).output().data();
        for (int b = 0; b < 2; b++) {
            Tensor one = Tensor.wrap(java.util.Arrays.copyOfRange(both.data(), b * t * e, (b + 1) * t * e), 1, t, e);
            double[] alone = l.forward(one).output().data();
            for (int i = 0; i < t * e; i++) assertThat(y[b * t * e + i]).isCloseTo(alone[i], within(1e-13));
        }
    }

    /** Causality: changing a later token must not change earlier outputs. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void shouldNotLeakFutureTokens(String name, AttentionConfig config) {
        AttentionLayer l = layer(config);
        int e = config.dModel();
        Tensor x = LayerChecks.randn(new SplittableRandom(4), 1, 1, 6, e);
        double[] y1 = l.forward(x).output().data().clone();
        for (int c = 0; c < e; c++) x.data()[4 * e + c] += 1.0;
        double[] y2 = l.forward(x).output().data();
        for (int i = 0; i < 4 * e; i++) assertThat(y2[i]).isEqualTo(y1[i]);
        assertThat(y2[4 * e]).isNotEqualTo(y1[4 * e]);
    }

    @Test
    void shouldRefuseInputOfWrongWidthNamingIt() {
        AttentionLayer l = layer(new MhaConfig(16, 4));
        assertThatThrownBy(() -> l.forward(Tensor.zeros(1, 3, 8))).hasMessageStartingWith("x: expected shape [B, T, 16]");
        DecodeState s = l.newDecodeState(2);
        assertThatThrownBy(() -> l.decode(s, Tensor.zeros(1, 16))).hasMessageStartingWith("xt: expected shape [2, 16]");
    }
}
