package org.ccalab.engine.attention.cca;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.CompressedConvSpec;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.common.variant.RopeSpec;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.DecodeState;
import org.ccalab.engine.io.LayerWeights;
import org.ccalab.engine.io.SafeTensors;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Against the golden vectors of ../shared/testdata (copied to src/test/resources/golden): float64 outputs of
 * an independent implementation of cca.md sections 2 and 6, weights under the ZAYA1 names. Their JSON files
 * give the configuration used below. 1e-10 absolute: both sides are float64 and the outputs are O(1), so
 * only summation-order rounding (~1e-15) may differ.
 */
class CompressedConvAttentionGoldenTest {
    private static final CompressedConvSpec GOLDEN_SPEC =
            new CompressedConvSpec(2, 2, new RopeSpec(0.5, 10_000.0), KeyTemperature.EXP, 1e-12, true, true);

    static java.util.stream.Stream<Arguments> goldens() {
        return java.util.stream.Stream.of(
                Arguments.of("cca_4q4kv_e64_d16_s12", new CcaConfig(64, 4, 16, GOLDEN_SPEC)),
                Arguments.of("ccgqa_4q2kv_e64_d16_s12", new CcgqaConfig(64, 4, 2, 16, GOLDEN_SPEC)));
    }

    private static Map<String, Tensor> golden(String name) throws URISyntaxException {
        return SafeTensors.read(Path.of(CompressedConvAttentionGoldenTest.class.getResource("/golden/" + name + ".safetensors").toURI()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("goldens")
    void shouldReproduceGoldenOutputInPrefillAndDecode(String name, AttentionConfig config) throws Exception {
        Map<String, Tensor> g = golden(name);
        AttentionLayer layer = AttentionLayers.create(config, new SplittableRandom(0));
        LayerWeights.load(layer, g, false);
        int s = g.get("input").dim(0), e = g.get("input").dim(1);
        double[] want = g.get("output").data();
        double[] got = layer.forward(g.get("input").reshape(1, s, e)).output().data();
        double maxAbs = 0;
        for (int i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
        assertThat(maxAbs).as("prefill max abs error").isLessThan(1e-10);

        DecodeState state = layer.newDecodeState(1);
        for (int t = 0; t < s; t++) {
            double[] row = new double[e];
            System.arraycopy(g.get("input").data(), t * e, row, 0, e);
            double[] yt = layer.decode(state, Tensor.wrap(row, 1, e)).data();
            for (int c = 0; c < e; c++) assertThat(Math.abs(yt[c] - want[t * e + c])).as("decode t=%d c=%d", t, c).isLessThan(1e-10);
        }
    }
}
