package org.ccalab.engine.backend.cuda.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.backend.cuda.Bf16;
import org.ccalab.engine.model.LanguageModel;
import org.ccalab.engine.model.ModelConfig;
import org.ccalab.engine.model.SplitMix64;
import org.ccalab.engine.train.AdamW;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ParameterLayoutTest {
    static Stream<AttentionConfig> variants() {
        return Stream.of(new MhaConfig(256, 4), new GqaConfig(256, 4, 2), new GqaConfig(256, 2, 1));
    }

    static LanguageModel cpuModel(AttentionConfig v, int layers) {
        return new LanguageModel(new ModelConfig(v, 256, layers, 0), AttentionLayers::create, SplitMix64.derive(7, "init"));
    }

    @ParameterizedTest
    @MethodSource("variants")
    void plansExactlyTheCpuModelsTensorsInItsOrder(AttentionConfig v) {
        LanguageModel model = cpuModel(v, 3);
        ParameterLayout layout = new ParameterLayout(ModelShape.of(model.config(), ModelShapeTest.spec(2, 64)));
        layout.requireMatches(model.parameters());
        assertThat(layout.size()).isEqualTo(model.parameters().size());
        assertThat(layout.totalElements()).isEqualTo(model.parameterCount());
        assertThat(layout.entries().get(layout.layer(1, ParameterLayout.K)).name()).isEqualTo("layers.1.attn.k_proj.weight");
        assertThat(layout.entries().get(layout.layer(2, ParameterLayout.DOWN)).name()).isEqualTo("layers.2.mlp.down_proj.weight");
        assertThat(layout.entries().get(layout.finalNorm()).name()).isEqualTo("norm.weight");
        // decay and the bf16 copy follow AdamW.java's rule: matrices only
        AdamW cpu = new AdamW(model.parameters(), 0.1);
        for (ParameterLayout.Entry e : layout.entries()) assertThat(e.isMatrix()).as(e.name()).isEqualTo(cpu.decays(e.index()));
    }

    @ParameterizedTest
    @MethodSource("ccaVariants")
    void plansTheCpuCcaModelsTensorsWithTheirAttentionIndices(AttentionConfig v) {
        LanguageModel model = cpuModel(v, 3);
        ParameterLayout layout = new ParameterLayout(ModelShape.of(model.config(), ModelShapeTest.spec(2, 64)));
        layout.requireMatches(model.parameters());
        assertThat(layout.totalElements()).isEqualTo(model.parameterCount());
        String[] names = {"q_proj.weight", "k_proj.weight", "v_proj_current.weight", "v_proj_delayed.weight",
                "conv_qk_depthwise.weight", "conv_qk_depthwise.bias", "conv_qk_grouped.weight", "conv_qk_grouped.bias", "temp",
                "o_proj.weight"};
        assertThat(ParameterLayout.CCA_TENSORS).isEqualTo(names.length);
        for (int j = 0; j < names.length; j++)
            assertThat(layout.entries().get(layout.attention(1, j)).name()).isEqualTo("layers.1.attn." + names[j]);
        assertThat(layout.entries().get(layout.layer(2, ParameterLayout.ATTN_NORM)).name()).isEqualTo("layers.2.input_layernorm.weight");
        assertThat(layout.entries().get(layout.layer(2, ParameterLayout.MLP_NORM)).name())
                .isEqualTo("layers.2.post_attention_layernorm.weight");
        assertThat(layout.entries().get(layout.layer(0, ParameterLayout.DOWN)).name()).isEqualTo("layers.0.mlp.down_proj.weight");
        assertThat(layout.entries().get(layout.finalNorm()).name()).isEqualTo("norm.weight");
        assertThatThrownBy(() -> layout.layer(0, ParameterLayout.Q)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> layout.attention(0, names.length)).isInstanceOf(IndexOutOfBoundsException.class);
        AdamW cpu = new AdamW(model.parameters(), 0.1);
        for (ParameterLayout.Entry e : layout.entries()) assertThat(e.isMatrix()).as(e.name()).isEqualTo(cpu.decays(e.index()));
    }

    @ParameterizedTest
    @MethodSource("mlaVariants")
    void plansTheCpuMlaModelsTensorsWithTheirNames(org.ccalab.common.variant.MlaConfig v) {
        LanguageModel model = cpuModel(v, 2);
        ParameterLayout layout = new ParameterLayout(ModelShape.of(model.config(), ModelShapeTest.spec(2, 64)));
        layout.requireMatches(model.parameters());
        assertThat(layout.totalElements()).isEqualTo(model.parameterCount());
        List<String> names = new ArrayList<>(v.hasQueryCompression()
                ? List.of("q_a_proj.weight", "q_a_layernorm.weight", "q_b_proj.weight")
                : List.of("q_proj.weight"));
        names.addAll(List.of("kv_a_proj_with_mqa.weight", "kv_a_layernorm.weight", "kv_b_proj.weight", "o_proj.weight"));
        for (int j = 0; j < names.size(); j++) {
            assertThat(layout.entries().get(layout.attention(1, j)).name()).isEqualTo("layers.1.attn." + names.get(j));
            assertThat(layout.mlaAttention(1, names.get(j))).isEqualTo(layout.attention(1, j));
        }
        assertThat(layout.mlaAttention(0, v.hasQueryCompression() ? "q_proj.weight" : "q_a_proj.weight")).isEqualTo(-1);
        assertThat(layout.entries().get(layout.layer(1, ParameterLayout.MLP_NORM)).name())
                .isEqualTo("layers.1.post_attention_layernorm.weight");
        assertThatThrownBy(() -> layout.layer(0, ParameterLayout.Q)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> layout.attention(0, names.size())).isInstanceOf(IndexOutOfBoundsException.class);
        AdamW cpu = new AdamW(model.parameters(), 0.1);
        for (ParameterLayout.Entry e : layout.entries()) assertThat(e.isMatrix()).as(e.name()).isEqualTo(cpu.decays(e.index()));
    }

    /**
     * OVQ: the hybrid (SWA block 0 with MHA's four tensors, OVQ block 1 with beta_log after them), a fixed-beta hybrid
     * (four each) and a pure OVQ model (every block OVQ, beta_log each), each against the CPU model's list.
     */
    @ParameterizedTest
    @MethodSource("ovqVariants")
    void plansTheCpuOvqModelsTensorsWithBetaLogOnOvqBlocks(org.ccalab.common.variant.OvqConfig v) {
        LanguageModel model = cpuModel(v, 3);
        ModelShape shape = ModelShape.of(model.config(), ModelShapeTest.spec(2, 64));
        ParameterLayout layout = new ParameterLayout(shape);
        layout.requireMatches(model.parameters());
        assertThat(layout.totalElements()).isEqualTo(model.parameterCount());
        for (int i = 0; i < 3; i++) {
            String p = "layers." + i + ".";
            assertThat(layout.entries().get(layout.layer(i, ParameterLayout.Q)).name()).isEqualTo(p + "attn.q_proj.weight");
            assertThat(layout.entries().get(layout.layer(i, ParameterLayout.O)).name()).isEqualTo(p + "attn.o_proj.weight");
            assertThat(layout.entries().get(layout.layer(i, ParameterLayout.DOWN)).name()).isEqualTo(p + "mlp.down_proj.weight");
            boolean beta = shape.ovqLayer(i) && v.ovq().learnBeta();
            if (beta) assertThat(layout.entries().get(layout.attention(i, ParameterLayout.OVQ_BETA_LOG)).name())
                    .isEqualTo(p + "attn.beta_log");
            else {
                int layer = i;
                assertThatThrownBy(() -> layout.attention(layer, ParameterLayout.OVQ_BETA_LOG))
                        .isInstanceOf(IndexOutOfBoundsException.class);
            }
        }
        assertThat(shape.ovqLayer(0)).isEqualTo(v.ovq().swaWindow() == 0);
        assertThat(shape.ovqLayer(1)).isTrue();
    }

    static Stream<org.ccalab.common.variant.OvqConfig> ovqVariants() {
        return Stream.of(new org.ccalab.common.variant.OvqConfig(256, 4),
                new org.ccalab.common.variant.OvqConfig(256, 4, new org.ccalab.common.variant.OvqSpec(null, null, null, null, null,
                        null, null, null, null, false, null, null)),
                new org.ccalab.common.variant.OvqConfig(256, 2, new org.ccalab.common.variant.OvqSpec(16, 40, 256, null, null,
                        null, null, null, null, null, null, 0)));
    }

    static Stream<org.ccalab.common.variant.MlaConfig> mlaVariants() {
        return Stream.of(new org.ccalab.common.variant.MlaConfig(256, 4, 0, 448, 32, 64, 64, 10_000, 1e-6),
                new org.ccalab.common.variant.MlaConfig(256, 4, 128, 448, 32, 64, 64, 10_000, 1e-6));
    }

    static Stream<AttentionConfig> ccaVariants() {
        return Stream.of(new org.ccalab.common.variant.CcaConfig(256, 2, 64), new org.ccalab.common.variant.CcgqaConfig(256, 4, 1, 64));
    }

    @Test
    void theGroupedConvWeightTravelsRepackedForTheKernelsAndBack() {
        LanguageModel model = cpuModel(new org.ccalab.common.variant.CcgqaConfig(256, 4, 2, 64), 1);
        ParameterLayout layout = new ParameterLayout(ModelShape.of(model.config(), ModelShapeTest.spec(2, 64)));
        ParameterLayout.Entry w1 = layout.entries().get(layout.attention(0, ParameterLayout.CCA_W1));
        float[] host = ParameterLayout.toFloats(model.parameters().get(w1.index()).value().data());
        float[] dev = ParameterLayout.toDevice(w1, host);
        assertThat(dev).isEqualTo(org.ccalab.engine.backend.cuda.CcaPrologueWeights.repackW1(host, 6, 64, 2)).isNotEqualTo(host);
        assertThat(ParameterLayout.toHost(w1, dev)).isEqualTo(host);
        ParameterLayout.Entry q = layout.entries().get(layout.attention(0, ParameterLayout.CCA_Q));
        assertThat(ParameterLayout.toDevice(q, host)).isSameAs(host);
        assertThat(ParameterLayout.toHost(q, host)).isSameAs(host);
    }

    @Test
    void refusesACpuModelOfAnotherShapeNamingTheTensor() {
        LanguageModel mha = cpuModel(new MhaConfig(256, 4), 2);
        ParameterLayout gqa = new ParameterLayout(ModelShape.of(cpuModel(new GqaConfig(256, 4, 2), 2).config(),
                ModelShapeTest.spec(2, 64)));
        assertThatThrownBy(() -> gqa.requireMatches(mha.parameters())).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("layers.0.attn.k_proj.weight").hasMessageContaining("[256, 256]")
                .hasMessageContaining("[128, 256]");
        List<Parameter> fewer = new ArrayList<>(mha.parameters());
        fewer.removeLast();
        ParameterLayout same = new ParameterLayout(ModelShape.of(mha.config(), ModelShapeTest.spec(2, 64)));
        assertThatThrownBy(() -> same.requireMatches(fewer)).hasMessageContaining("tensors");
        assertThatThrownBy(() -> same.layer(2, 0)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void packsFloat64IntoFp32AndBf16AsTheDeviceHoldsThem() {
        double[] x = {0.1, -3.0e-5, 1.0 + 1e-12, 65504.25, 0.0};
        float[] f = ParameterLayout.toFloats(x);
        for (int i = 0; i < x.length; i++) assertThat(f[i]).isEqualTo((float) x[i]);
        short[] h = ParameterLayout.toBf16(f);
        for (int i = 0; i < x.length; i++) {
            assertThat(h[i]).isEqualTo(Bf16.fromFloat(f[i]));
            assertThat((double) Bf16.toFloat(h[i])).isCloseTo(x[i], org.assertj.core.data.Offset.offset(Math.abs(x[i]) / 256));
        }
        double[] back = new double[x.length];
        ParameterLayout.toDoubles(f, back);
        for (int i = 0; i < x.length; i++) assertThat(back[i]).isEqualTo((double) f[i]);
        assertThatThrownBy(() -> ParameterLayout.toDoubles(f, new double[2])).isInstanceOf(IllegalArgumentException.class);
    }
}
