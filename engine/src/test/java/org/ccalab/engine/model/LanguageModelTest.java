package org.ccalab.engine.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.stream.Stream;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqGrowth;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.attention.gqa.GqaAttention;
import org.ccalab.engine.attention.ovq.OvqAttention;
import org.ccalab.engine.attention.AttentionLayers;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.train.CrossEntropy;
import org.junit.jupiter.api.Test;

class LanguageModelTest {
    private static final int VOCAB = 11;

    private static LanguageModel tinyModel(long seed) {
        ModelConfig cfg = new ModelConfig(new MhaConfig(8, 2), VOCAB, 2, 12);
        return new LanguageModel(cfg, PointwiseTestAttention::new, new SplitMix64(seed));
    }

    @Test
    void namesParametersLikeSafetensorsLlama() {
        List<String> names = tinyModel(1).parameters().stream().map(Parameter::name).toList();
        assertThat(names).containsExactly("embed_tokens.weight",
                "layers.0.input_layernorm.weight", "layers.0.attn.o_proj.weight", "layers.0.post_attention_layernorm.weight",
                "layers.0.mlp.gate_proj.weight", "layers.0.mlp.up_proj.weight", "layers.0.mlp.down_proj.weight",
                "layers.1.input_layernorm.weight", "layers.1.attn.o_proj.weight", "layers.1.post_attention_layernorm.weight",
                "layers.1.mlp.gate_proj.weight", "layers.1.mlp.up_proj.weight", "layers.1.mlp.down_proj.weight",
                "norm.weight");
    }

    @Test
    void sameSeedSameWeightsOtherSeedOtherWeights() {
        double[] a = tinyModel(7).parameters().get(0).value().data();
        double[] b = tinyModel(7).parameters().get(0).value().data();
        double[] c = tinyModel(8).parameters().get(0).value().data();
        assertThat(a).containsExactly(b);
        assertThat(a).isNotEqualTo(c);
    }

    @Test
    void defaultMlpHiddenIsEightThirdsRoundedToEight() {
        assertThat(new ModelConfig(new MhaConfig(64, 4), 10, 1, 0).mlpHidden()).isEqualTo(176);
    }

    /** Every parameter's analytic gradient against central differences of the loss, in float64. */
    @Test
    void analyticGradientsMatchFiniteDifferences() {
        checkGradients(tinyModel(3));
    }

    /** OVQ with chunk L = 2, N_max = 4 and SWA window W (0: no SWA): 5 tokens fold twice and cross the window. */
    private static OvqConfig ovq(int swaWindow) {
        return new OvqConfig(8, 2, new OvqSpec(2, 4, 8, OvqGrowth.LOG, null, null, null, null, null, null, null, swaWindow));
    }

    static Stream<AttentionConfig> variants() {
        return Stream.of(new MhaConfig(8, 2), new GqaConfig(8, 2, 1), MlaConfig.kvMatched(8, 2, 4),
                new CcaConfig(8, 2, 2), new CcgqaConfig(8, 2, 2, 2), ovq(3), ovq(0));
    }

    @Test
    void ovqHybridAlternatesSlidingWindowAndOvqBlocksSwaFirst() {
        LanguageModel m = new LanguageModel(new ModelConfig(ovq(3), VOCAB, 3, 12), AttentionLayers::create, new SplitMix64(1));
        for (int i : new int[] {0, 2}) {
            assertThat(m.attention(i)).as("block %d", i).isInstanceOf(GqaAttention.class);
            assertThat(((GqaAttention) m.attention(i)).window()).isEqualTo(3);
            assertThat(m.attention(i).config()).isEqualTo(new MhaConfig(8, 2));
        }
        assertThat(m.attention(1)).isInstanceOf(OvqAttention.class);
        List<String> names = m.parameters().stream().map(Parameter::name).filter(n -> n.contains(".attn.")).toList();
        assertThat(names).containsExactly(
                "layers.0.attn.q_proj.weight", "layers.0.attn.k_proj.weight", "layers.0.attn.v_proj.weight", "layers.0.attn.o_proj.weight",
                "layers.1.attn.q_proj.weight", "layers.1.attn.k_proj.weight", "layers.1.attn.v_proj.weight", "layers.1.attn.o_proj.weight",
                "layers.1.attn.beta_log",
                "layers.2.attn.q_proj.weight", "layers.2.attn.k_proj.weight", "layers.2.attn.v_proj.weight", "layers.2.attn.o_proj.weight");
    }

    /** The factory seam: a factory that overrides createSlidingWindow builds the SWA blocks (and only those). */
    @Test
    void hybridAsksTheFactoryForSlidingWindowLayersAtEvenBlocks() {
        List<String> asked = new java.util.ArrayList<>();
        AttentionFactory factory = new AttentionFactory() {
            @Override
            public org.ccalab.engine.attention.AttentionLayer create(AttentionConfig config, java.util.random.RandomGenerator rng) {
                asked.add(config.family());
                return new PointwiseTestAttention(config, rng);
            }

            @Override
            public org.ccalab.engine.attention.AttentionLayer createSlidingWindow(MhaConfig shape, int window,
                                                                                 java.util.random.RandomGenerator rng) {
                asked.add("swa " + shape.family() + " W=" + window);
                return new PointwiseTestAttention(shape, rng);
            }
        };
        new LanguageModel(new ModelConfig(ovq(3), VOCAB, 4, 12), factory, new SplitMix64(1));
        assertThat(asked).containsExactly("swa mha W=3", "ovq", "swa mha W=3", "ovq");
    }

    @Test
    void ovqWithoutSlidingWindowHasOvqInEveryBlock() {
        LanguageModel m = new LanguageModel(new ModelConfig(ovq(0), VOCAB, 3, 12), AttentionLayers::create, new SplitMix64(1));
        for (int i = 0; i < 3; i++) assertThat(m.attention(i)).as("block %d", i).isInstanceOf(OvqAttention.class);
        assertThat(new ModelConfig(ovq(0), VOCAB, 1, 12).nLayers()).as("no hybrid, one block is fine").isEqualTo(1);
    }

    /** One block of a hybrid would be its SWA layer alone: a model of family ovq with no OVQ layer. */
    @Test
    void refusesAOneBlockHybrid() {
        assertThatThrownBy(() -> new ModelConfig(ovq(3), VOCAB, 1, 12))
                .isInstanceOfSatisfying(InvalidConfigException.class, e -> assertThat(e.field()).isEqualTo("nLayers"))
                .hasMessageContaining("nLayers >= 2");
    }

    /**
     * The same check with each real attention variant inside the blocks: catches composition faults the
     * stand-in cannot (e.g. a layer that writes into the dy it is given, which the residual path reuses).
     */
    @ParameterizedTest
    @MethodSource("variants")
    void gradientsMatchFiniteDifferencesWithEveryVariant(AttentionConfig variant) {
        checkGradients(new LanguageModel(new ModelConfig(variant, VOCAB, 2, 12), AttentionLayers::create, new SplitMix64(5)));
    }

    private static void checkGradients(LanguageModel model) {
        int[] tokens = {1, 4, 2, 9, 0, 3, 3, 7, 10, 5};
        int[] targets = {4, 2, 9, 0, 3, -1, 7, 10, 5, 6};
        model.zeroGrad();
        LanguageModel.Pass pass = model.forward(tokens, 2, 5);
        CrossEntropy.compute(pass.logits(), targets, VOCAB, true);
        model.backward(pass, pass.logits());
        double h = 1e-5;
        for (Parameter p : model.parameters()) {
            double[] w = p.value().data();
            double worst = 0;
            // A spread of entries per tensor keeps the test fast; every tensor is covered.
            for (int i = 0; i < w.length; i += Math.max(1, w.length / 7)) {
                double old = w[i];
                w[i] = old + h;
                double up = loss(model, tokens, targets);
                w[i] = old - h;
                double down = loss(model, tokens, targets);
                w[i] = old;
                double numeric = (up - down) / (2 * h);
                double analytic = p.grad().data()[i];
                // Central differences at h = 1e-5 carry ~1e-11 absolute error (roundoff of a loss ~2.4 over
                // 2h) and ~1e-7 relative truncation; the MLP's gradients at init are ~1e-6, so entries are
                // judged relative to max(|numeric|, 1e-6). A wrong term shows up as an error near 1.
                worst = Math.max(worst, Math.abs(numeric - analytic) / Math.max(1e-6, Math.abs(numeric)));
            }
            assertThat(worst).as("relative gradient error of %s", p.name()).isLessThan(1e-4);
        }
    }

    private static double loss(LanguageModel m, int[] tokens, int[] targets) {
        return CrossEntropy.compute(m.forward(tokens, 2, 5).logits(), targets, VOCAB, false).loss();
    }

    @Test
    void refusesTokensOutsideTheVocabulary() {
        assertThatThrownBy(() -> tinyModel(1).forward(new int[] {0, VOCAB}, 1, 2))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("outside vocabulary");
    }
}
