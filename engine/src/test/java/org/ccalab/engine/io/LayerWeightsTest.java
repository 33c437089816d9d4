package org.ccalab.engine.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class LayerWeightsTest {
    @TempDir
    Path dir;

    static Stream<AttentionConfig> configs() {
        return Stream.of(new MhaConfig(16, 4), new GqaConfig(16, 4, 2), new CcaConfig(16, 2, 4),
                new CcgqaConfig(32, 4, 2, 4), new MlaConfig(16, 2, 0, 6, 4, 4, 3, 1e4, 1e-6),
                new MlaConfig(16, 2, 5, 6, 4, 4, 3, 1e4, 1e-6), new OvqConfig(16, 2, new OvqSpec(2, 3, 6, null, null,
                        null, null, null, null, null, null, null)));
    }

    @ParameterizedTest
    @MethodSource("configs")
    void shouldRoundTripEveryVariantThroughSafetensors(AttentionConfig config) {
        AttentionLayer a = AttentionLayers.create(config, new SplittableRandom(1));
        AttentionLayer b = AttentionLayers.create(config, new SplittableRandom(2));
        Path f = dir.resolve(config.family() + ".safetensors");
        LayerWeights.save(a, f, DType.F64);
        LayerWeights.load(b, f);
        for (int i = 0; i < a.parameters().size(); i++)
            assertThat(b.parameters().get(i).value().data()).isEqualTo(a.parameters().get(i).value().data());
        Tensor x = Tensor.wrap(new SplittableRandom(3).doubles(2 * 3 * config.dModel()).toArray(), 2, 3, config.dModel());
        assertThat(b.forward(x).output().data()).isEqualTo(a.forward(x).output().data());
    }

    @Test
    void shouldUseTheDocumentedNamesAndPyTorchLayouts() {
        Map<String, int[]> cca = shapes(new CcgqaConfig(64, 4, 2, 16));
        assertThat(cca.keySet()).containsExactly("q_proj.weight", "k_proj.weight", "v_proj_current.weight",
                "v_proj_delayed.weight", "conv_qk_depthwise.weight", "conv_qk_depthwise.bias", "conv_qk_grouped.weight",
                "conv_qk_grouped.bias", "temp", "o_proj.weight");
        assertThat(cca.get("conv_qk_depthwise.weight")).containsExactly(96, 1, 2);
        assertThat(cca.get("conv_qk_grouped.weight")).containsExactly(96, 16, 2);
        assertThat(cca.get("v_proj_delayed.weight")).containsExactly(16, 64);
        Map<String, int[]> mla = shapes(new MlaConfig(64, 4, 24, 32, 16, 8, 12, 1e4, 1e-6));
        assertThat(mla.keySet()).containsExactly("q_a_proj.weight", "q_a_layernorm.weight", "q_b_proj.weight",
                "kv_a_proj_with_mqa.weight", "kv_a_layernorm.weight", "kv_b_proj.weight", "o_proj.weight");
        assertThat(mla.get("kv_a_proj_with_mqa.weight")).containsExactly(40, 64);
        assertThat(mla.get("kv_b_proj.weight")).containsExactly(4 * 28, 32);
        assertThat(mla.get("q_b_proj.weight")).containsExactly(4 * 24, 24);
        assertThat(shapes(new GqaConfig(64, 8, 2)).get("k_proj.weight")).containsExactly(16, 64);
        Map<String, int[]> ovq = shapes(new OvqConfig(64, 4));
        assertThat(ovq.keySet()).containsExactly("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight",
                "beta_log");
        assertThat(ovq.get("o_proj.weight")).containsExactly(64, 64);
        assertThat(ovq.get("beta_log")).containsExactly(4);
        assertThat(shapes(new OvqConfig(64, 4, new OvqSpec(null, null, null, null, null, null, null, null, null, false,
                null, null))).keySet()).containsExactly("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight");
    }

    private static Map<String, int[]> shapes(AttentionConfig c) {
        Map<String, int[]> m = new LinkedHashMap<>();
        for (Parameter p : AttentionLayers.create(c, new SplittableRandom(0)).parameters()) m.put(p.name(), p.value().shape());
        return m;
    }

    @Test
    void shouldRefuseMissingWrongShapedAndForeignTensorsWithoutTouchingTheLayer() {
        AttentionLayer cca = AttentionLayers.create(new CcaConfig(32, 2, 4), new SplittableRandom(1));
        List<double[]> before = cca.parameters().stream().map(p -> p.value().data().clone()).toList();

        Map<String, Tensor> missing = new LinkedHashMap<>(LayerWeights.of(
                AttentionLayers.create(new CcaConfig(32, 2, 4), new SplittableRandom(9))));
        missing.remove("temp");
        assertThatThrownBy(() -> LayerWeights.load(cca, missing, true)).isInstanceOf(InvalidWeightsException.class)
                .hasMessageStartingWith("missing tensor temp [2]");

        // CCGQA weights (2 KV heads of 4 for 4 query heads) do not fit a CCA config with 2 + 2 heads.
        Map<String, Tensor> other = LayerWeights.of(AttentionLayers.create(new CcgqaConfig(32, 4, 2, 4), new SplittableRandom(9)));
        assertThatThrownBy(() -> LayerWeights.load(cca, other, true)).isInstanceOf(InvalidWeightsException.class)
                .hasMessageStartingWith("tensor q_proj.weight has shape [16, 32] but the config")
                .hasMessageContaining("needs [8, 32]");

        Map<String, Tensor> extra = new LinkedHashMap<>(LayerWeights.of(
                AttentionLayers.create(new CcaConfig(32, 2, 4), new SplittableRandom(9))));
        extra.put("v_proj.weight", Tensor.zeros(8, 32));
        assertThatThrownBy(() -> LayerWeights.load(cca, extra, true)).hasMessageStartingWith("unexpected tensor v_proj.weight");

        for (int i = 0; i < before.size(); i++) assertThat(cca.parameters().get(i).value().data()).isEqualTo(before.get(i));
    }
}
