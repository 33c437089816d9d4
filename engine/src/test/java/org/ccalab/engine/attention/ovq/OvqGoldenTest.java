package org.ccalab.engine.attention.ovq;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.DecodeState;
import org.ccalab.engine.io.LayerWeights;
import org.ccalab.engine.io.SafeTensors;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.json.JsonMapper;

/**
 * Against golden vectors from an independent float64 implementation of ovq.md sections 4 and 5 in numpy
 * (bench/ovq_reference.py, which regenerates src/test/resources/ovq-golden): every [ours] choice of the spec
 * (growth schedules, assignments, updates, state-only read, renormalised centroids, fixed beta, L = 1, a chunk
 * wider than the cap, a tail left unfolded). 1e-10 absolute: both sides are float64 with O(1) outputs, so only
 * summation order may differ, while a different founder, assignment or step would move outputs by O(0.1).
 */
class OvqGoldenTest {
    private static final JsonMapper JSON = JsonMapper.builder().build();

    static Stream<String> cases() {
        return Stream.of("newton_log", "linear_growth", "dot_assignment", "constant_update", "state_only", "renormalized",
                "fixed_beta", "per_token", "wide_chunk_small_cap");
    }

    private static Path resource(String file) throws URISyntaxException {
        return Path.of(OvqGoldenTest.class.getResource("/ovq-golden/" + file).toURI());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void shouldReproduceTheIndependentImplementationInPrefillAndDecode(String name) throws Exception {
        OvqConfig config = (OvqConfig) JSON.readValue(Files.readString(resource(name + ".json")), AttentionConfig.class);
        Map<String, Tensor> g = SafeTensors.read(resource(name + ".safetensors"));
        AttentionLayer layer = AttentionLayers.create(config, new SplittableRandom(0));
        LayerWeights.load(layer, g, false);
        Tensor x = g.get("input");
        int b = x.dim(0), t = x.dim(1), e = x.dim(2);
        double[] want = g.get("output").data();
        assertThat(maxAbsDiff(layer.forward(x).output().data(), want)).as("prefill").isLessThan(1e-10);

        DecodeState state = layer.newDecodeState(b);
        double[] decoded = new double[b * t * e];
        for (int step = 0; step < t; step++) {
            double[] row = new double[b * e];
            for (int i = 0; i < b; i++) System.arraycopy(x.data(), (i * t + step) * e, row, i * e, e);
            double[] y = layer.decode(state, Tensor.wrap(row, b, e)).data();
            for (int i = 0; i < b; i++) System.arraycopy(y, i * e, decoded, (i * t + step) * e, e);
        }
        assertThat(maxAbsDiff(decoded, want)).as("decode").isLessThan(1e-10);
        // The reference's dictionaries reached these sizes; the golden cases are built so most hit the cap.
        for (double n : g.get("dictionary_sizes").data())
            assertThat((int) n).isEqualTo(config.ovq().dictionaryAfterChunks(t / config.ovq().chunkLength()));
    }

    private static double maxAbsDiff(double[] got, double[] want) {
        assertThat(got).hasSameSizeAs(want);
        double max = 0;
        for (int i = 0; i < want.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
        return max;
    }
}
