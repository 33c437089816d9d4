package org.ccalab.engine.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.io.DType;
import org.ccalab.engine.io.DeepSeekRopeLayout;
import org.ccalab.engine.io.LayerWeights;
import org.ccalab.engine.io.SafeTensors;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LayerCliTest {
    private static final String CCA_GOLDEN_CONFIG = "{\"family\":\"cca\",\"dModel\":64,\"nHeads\":4,\"headDim\":16,"
            + "\"conv\":{\"keyTemperature\":\"EXP\",\"rope\":{\"fraction\":0.5,\"base\":10000}}}";

    @TempDir
    Path dir;
    private Path weights, input, output;
    private Map<String, Tensor> golden;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();

    @BeforeEach
    void splitGoldenFile() throws Exception {
        golden = SafeTensors.read(Path.of(getClass().getResource("/golden/cca_4q4kv_e64_d16_s12.safetensors").toURI()));
        Map<String, Tensor> w = new LinkedHashMap<>(golden);
        w.remove("input");
        w.remove("output");
        weights = dir.resolve("w.safetensors");
        input = dir.resolve("x.safetensors");
        output = dir.resolve("y.safetensors");
        SafeTensors.write(weights, w, DType.F64, Map.of());
        SafeTensors.write(input, Map.of("input", golden.get("input")), DType.F64, Map.of());
    }

    private int run(String... args) {
        out.reset();
        err.reset();
        return LayerCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String errors() {
        return err.toString(StandardCharsets.UTF_8);
    }

    private static double maxAbsDiff(double[] a, double[] b) {
        assertThat(a).hasSameSizeAs(b);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    @Test
    void shouldReproduceGoldenOutputInPrefillAndDecodeMode() {
        for (String mode : new String[] {"prefill", "decode"}) {
            assertThat(run("--config", CCA_GOLDEN_CONFIG, "--weights", weights.toString(), "--input", input.toString(),
                    "--output", output.toString(), "--mode", mode)).as(errors()).isZero();
            Tensor y = SafeTensors.read(output).get("output");
            assertThat(y.shape()).containsExactly(12, 64);
            assertThat(maxAbsDiff(y.data(), golden.get("output").data())).as(mode).isLessThan(1e-10);
        }
    }

    @Test
    void shouldWriteInputAndEveryParameterGradient() throws Exception {
        Path dy = dir.resolve("dy.safetensors");
        Tensor g = Tensor.wrap(new SplittableRandom(5).doubles(12 * 64, -1, 1).toArray(), 12, 64);
        SafeTensors.write(dy, Map.of("grad_output", g), DType.F64, Map.of());
        Path config = Files.writeString(dir.resolve("c.json"), CCA_GOLDEN_CONFIG);
        assertThat(run("--config", config.toString(), "--weights", weights.toString(), "--input", input.toString(),
                "--output", output.toString(), "--grad-output", dy.toString())).as(errors()).isZero();
        Map<String, Tensor> res = SafeTensors.read(output);

        AttentionLayer layer = AttentionLayers.create(LayerCli.readConfig(CCA_GOLDEN_CONFIG), new SplittableRandom(0));
        LayerWeights.load(layer, weights);
        Tensor dx = layer.backward(layer.forward(golden.get("input").reshape(1, 12, 64)), g.reshape(1, 12, 64));
        assertThat(res.get("grad_input").data()).isEqualTo(dx.data());
        assertThat(res.get("grad_input").shape()).containsExactly(12, 64);
        for (Parameter p : layer.parameters()) {
            assertThat(res).containsKey("grad." + p.name());
            assertThat(res.get("grad." + p.name()).data()).as(p.name()).isEqualTo(p.grad().data());
        }
    }

    /**
     * OVQ through the CLI: seeded init, prefill and decode modes agree (12 tokens, L = 4: three folds, the
     * dictionary full after two), and --grad-output writes beta_log's gradient with the rest.
     */
    @Test
    void shouldRunOvqInPrefillDecodeAndGradientModes() {
        String ovq = "{\"family\":\"ovq\",\"dModel\":64,\"nHeads\":4,"
                + "\"ovq\":{\"chunkLength\":4,\"dictionarySize\":5,\"growthLength\":8}}";
        Path y2 = dir.resolve("y2.safetensors"), dy = dir.resolve("dy.safetensors");
        assertThat(run("--config", ovq, "--seed", "4", "--input", input.toString(), "--output", output.toString(),
                "--mode", "prefill")).as(errors()).isZero();
        assertThat(run("--config", ovq, "--seed", "4", "--input", input.toString(), "--output", y2.toString(),
                "--mode", "decode")).as(errors()).isZero();
        Tensor prefill = SafeTensors.read(output).get("output"), decode = SafeTensors.read(y2).get("output");
        assertThat(prefill.shape()).containsExactly(12, 64);
        assertThat(maxAbsDiff(prefill.data(), decode.data())).isLessThan(1e-12);
        AttentionLayer expected = AttentionLayers.create(LayerCli.readConfig(ovq), new SplittableRandom(4));
        assertThat(prefill.data()).isEqualTo(expected.forward(golden.get("input").reshape(1, 12, 64)).output().data());
        Tensor g = Tensor.wrap(new SplittableRandom(5).doubles(12 * 64, -1, 1).toArray(), 12, 64);
        SafeTensors.write(dy, Map.of("grad_output", g), DType.F64, Map.of());
        assertThat(run("--config", ovq, "--seed", "4", "--input", input.toString(), "--output", output.toString(),
                "--grad-output", dy.toString())).as(errors()).isZero();
        assertThat(SafeTensors.read(output)).containsKeys("grad_input", "grad.q_proj.weight", "grad.beta_log");
    }

    @Test
    void shouldInitFromSeedSaveWeightsAndReloadThem() {
        String gqa = "{\"family\":\"gqa\",\"dModel\":64,\"nHeads\":4,\"nKvHeads\":2}";
        Path saved = dir.resolve("saved.safetensors"), y2 = dir.resolve("y2.safetensors");
        assertThat(run("--config", gqa, "--seed", "9", "--save-weights", saved.toString(), "--input", input.toString(),
                "--output", output.toString())).as(errors()).isZero();
        assertThat(run("--config", gqa, "--weights", saved.toString(), "--input", input.toString(),
                "--output", y2.toString())).as(errors()).isZero();
        assertThat(SafeTensors.read(y2).get("output").data()).isEqualTo(SafeTensors.read(output).get("output").data());
        AttentionLayer expected = AttentionLayers.create(new GqaConfig(64, 4, 2), new SplittableRandom(9));
        assertThat(SafeTensors.read(saved).get("q_proj.weight").data()).isEqualTo(expected.parameters().get(0).value().data());
    }

    @Test
    void shouldRefuseBadInputWithExitCode2AndANamedCulprit() throws Exception {
        String in = input.toString(), o = output.toString(), w = weights.toString();
        assertThat(run("--input", in, "--output", o)).isEqualTo(2);
        assertThat(errors()).contains("--config is required");

        assertThat(run("--config", "{\"family\":\"ccgqa\",\"dModel\":64,\"nQHeads\":4,\"nKvHeads\":3,\"headDim\":16}",
                "--input", in, "--output", o)).isEqualTo(2);
        assertThat(errors()).contains("config: nKvHeads");

        assertThat(run("--config", "{\"family\":\"gqa\",\"dModel\":64,\"nHeads\":4,\"nKvHead\":2}", "--input", in,
                "--output", o)).isEqualTo(2);
        assertThat(errors()).contains("--config").contains("nKvHead");

        assertThat(run("--config", "{\"family\":\"ccgqa\",\"dModel\":64,\"nQHeads\":4,\"nKvHeads\":2,\"headDim\":16}",
                "--weights", w, "--input", in, "--output", o)).isEqualTo(2);
        assertThat(errors()).contains("tensor k_proj.weight has shape [64, 64]");

        Path narrow = dir.resolve("narrow.safetensors");
        SafeTensors.write(narrow, Map.of("input", Tensor.zeros(3, 32)), DType.F64, Map.of());
        assertThat(run("--config", CCA_GOLDEN_CONFIG, "--input", narrow.toString(), "--output", o)).isEqualTo(2);
        assertThat(errors()).contains("--input: expected shape [B, T, 64] or [T, 64], got [3, 32]");

        assertThat(run("--config", CCA_GOLDEN_CONFIG, "--input", dir.resolve("nope").toString(), "--output", o)).isEqualTo(2);
        assertThat(errors()).contains("nope").contains("cannot read");

        assertThat(run("--config", CCA_GOLDEN_CONFIG, "--input", in, "--output", o, "--mode", "sideways")).isEqualTo(2);
        assertThat(errors()).contains("--mode");
        assertThat(Files.exists(output)).as("no output written by failed runs").isFalse();
    }

    @Test
    void shouldReadDeepSeekInterleavedMlaWeights() {
        String json = "{\"family\":\"mla\",\"dModel\":64,\"nHeads\":2,\"qLoraRank\":0,\"kvLoraRank\":12,"
                + "\"qkNopeHeadDim\":8,\"qkRopeHeadDim\":4,\"vHeadDim\":8,\"ropeBase\":10000,\"normEps\":1e-6}";
        MlaConfig config = (MlaConfig) LayerCli.readConfig(json);
        AttentionLayer layer = AttentionLayers.create(config, new SplittableRandom(4));
        Path hf = dir.resolve("hf.safetensors");
        SafeTensors.write(hf, DeepSeekRopeLayout.toInterleaved(LayerWeights.of(layer), config), DType.F64, Map.of());
        assertThat(run("--config", json, "--weights", hf.toString(), "--rope-layout", "interleaved", "--input",
                input.toString(), "--output", output.toString())).as(errors()).isZero();
        double[] want = layer.forward(golden.get("input").reshape(1, 12, 64)).output().data();
        assertThat(SafeTensors.read(output).get("output").data()).isEqualTo(want);
        // Read as if already in our layout, the same file gives another function.
        assertThat(run("--config", json, "--weights", hf.toString(), "--input", input.toString(), "--output",
                output.toString())).isZero();
        assertThat(SafeTensors.read(output).get("output").data()).isNotEqualTo(want);
        assertThat(run("--config", CCA_GOLDEN_CONFIG, "--weights", weights.toString(), "--rope-layout", "interleaved",
                "--input", input.toString(), "--output", output.toString())).isEqualTo(2);
        assertThat(errors()).contains("--rope-layout interleaved applies to MLA weights only");
    }

    @Test
    void shouldDispatchSubcommands() {
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(e, true, StandardCharsets.UTF_8);
        assertThat(Main.dispatch(new String[] {"fly"}, ps)).isEqualTo(2);
        assertThat(e.toString(StandardCharsets.UTF_8)).contains("unknown subcommand 'fly'").contains("layer");
        assertThat(Main.dispatch(new String[0], ps)).isEqualTo(2);
        assertThat(Main.dispatch(new String[] {"layer", "--help"}, ps)).isZero();
    }
}
