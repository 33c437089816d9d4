package org.ccalab.engine.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqGrowth;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.data.AssociativeRecall;
import org.ccalab.engine.data.Dataset;
import org.ccalab.engine.run.RunFailedException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class TrainerTest {
    static Stream<AttentionConfig> variants() {
        return Stream.of(new MhaConfig(32, 4), new GqaConfig(32, 4, 2), new GqaConfig(32, 4, 1),
                MlaConfig.kvMatched(32, 4, 8), new CcaConfig(32, 4, 4), new CcgqaConfig(32, 4, 2, 4), ovqHybrid());
    }

    /**
     * An SWA/OVQ hybrid sized for 32-token sequences: window 16 (so the SWA blocks do cut the context), chunk 8
     * (three folds per sequence), up to 16 centroids per head reached at 64 tokens.
     */
    static OvqConfig ovqHybrid() {
        return new OvqConfig(32, 4, new OvqSpec(8, 16, 64, OvqGrowth.LOG, null, null, null, null, null, null, null, 16));
    }

    /** ln(258) = 5.55 at init; a byte-level LM learns the letter statistics of English within a few steps. */
    @ParameterizedTest
    @MethodSource("variants")
    void tinyLanguageModelLearnsTextForEveryVariant(AttentionConfig variant) {
        Trainer t = TinyTraining.trainer(variant, TinyTraining.text(), TinyTraining.spec(40, 32, 8, 1e-2), 11);
        double before = t.evaluate().loss();
        double first = t.step().loss();
        while (!t.done()) t.step();
        double after = t.evaluate().loss();
        assertThat(first).as("initial loss ~ ln(258)").isBetween(5.0, 6.0);
        assertThat(after).as(variant.family() + " validation loss after 40 steps").isLessThan(before - 2.0);
    }

    /**
     * Multi-query associative recall with P = 4 pairs from K = 8 keys: a blind guess scores 1/8 and
     * guessing any value seen in the prefix scores 1/P = 0.25; more needs retrieval by key. CCA's causal
     * convolution hands each key the previous token, so it needs no separate previous-token head and
     * learns the task in ~100 steps (measured: 0.95 at step 100, 1.0 by 250); MHA of the same size sat
     * near 0.4 after 1,300 steps in the same setting.
     */
    @Test
    void ccaLearnsAssociativeRecall() {
        AssociativeRecall recall = new AssociativeRecall(8, 1);
        TrainingSpec spec = new TrainingSpec("recall:8", "bytes", 2, 16, 32, 150, 1e-2, 10, 0.0, 1.0, 1000, 1000, 64);
        Trainer t = TinyTraining.trainer(new CcaConfig(32, 2, 8), recall, spec, 1);
        double before = t.evaluate().accuracy();
        while (!t.done()) t.step();
        Trainer.Evaluation after = t.evaluate();
        assertThat(recall.pairs(16)).isEqualTo(4);
        assertThat(before).isLessThan(0.25);
        assertThat(after.accuracy()).as("recall accuracy").isGreaterThan(0.9);
    }

    /**
     * The SWA/OVQ hybrid (2 blocks: SWA window 8, then OVQ with L = 4, N_max = 8) on the recall task of
     * {@link #ccaLearnsAssociativeRecall}: it must beat the blind 1/8 and the any-prefix-value 1/P = 0.25, which
     * needs context carried through the attention layers (the MLP alone sees only the key). Measured with this
     * seed: 0.33 at step 50, 0.37-0.44 from step 100 to 400 (window 4: the same). That is the plateau MHA of the
     * same size sits on (0.38-0.43, see GqaAttentionTest), so this checks that the hybrid trains on the task, not
     * that it retrieves by key; CCA's 1.0 comes from its convolution.
     */
    @Test
    void ovqHybridTrainsOnAssociativeRecallAboveTheValueGuessingBaseline() {
        AssociativeRecall recall = new AssociativeRecall(8, 1);
        TrainingSpec spec = new TrainingSpec("recall:8", "bytes", 2, 16, 32, 250, 1e-2, 10, 0.0, 1.0, 1000, 1000, 64);
        OvqConfig hybrid = new OvqConfig(32, 2, new OvqSpec(4, 8, 16, OvqGrowth.LINEAR, null, null, null, null, null, null, null, 8));
        Trainer t = TinyTraining.trainer(hybrid, recall, spec, 1);
        double before = t.evaluate().accuracy();
        while (!t.done()) t.step();
        assertThat(before).isLessThan(0.25);
        assertThat(t.evaluate().accuracy()).as("recall accuracy").isGreaterThan(0.3);
    }

    static Stream<AttentionConfig> resumable() {
        return Stream.of(new GqaConfig(32, 4, 2), ovqHybrid());
    }

    @ParameterizedTest
    @MethodSource("resumable")
    void resumeFromCheckpointIsBitExact(AttentionConfig v, @TempDir Path dir) {
        Dataset data = TinyTraining.text();
        TrainingSpec spec = TinyTraining.spec(8, 16, 4, 1e-2);

        Trainer straight = TinyTraining.trainer(v, data, spec, 21);
        List<Double> straightLosses = new ArrayList<>();
        while (!straight.done()) straightLosses.add(straight.step().loss());

        Trainer firstHalf = TinyTraining.trainer(v, data, spec, 21);
        List<Double> resumedLosses = new ArrayList<>();
        for (int i = 0; i < 4; i++) resumedLosses.add(firstHalf.step().loss());
        Path ckpt = dir.resolve("step-4.safetensors");
        firstHalf.save(ckpt);
        // A different init seed proves that the checkpoint, not the seed, restores every weight.
        Trainer secondHalf = TinyTraining.trainer(v, data, spec, 999);
        secondHalf.restore(ckpt);
        assertThat(secondHalf.completedSteps()).isEqualTo(4);
        while (!secondHalf.done()) resumedLosses.add(secondHalf.step().loss());

        assertThat(resumedLosses).containsExactlyElementsOf(straightLosses);
        assertBitIdentical(straight.model().parameters(), secondHalf.model().parameters());
        assertThat(secondHalf.tokensSeen()).isEqualTo(straight.tokensSeen());
    }

    @Test
    void sameSeedReproducesExactlyAndOtherSeedDiffers() {
        Dataset data = TinyTraining.text();
        TrainingSpec spec = TinyTraining.spec(5, 16, 4, 1e-2);
        Trainer a = TinyTraining.trainer(new MhaConfig(32, 4), data, spec, 3);
        Trainer b = TinyTraining.trainer(new MhaConfig(32, 4), data, spec, 3);
        Trainer c = TinyTraining.trainer(new MhaConfig(32, 4), data, spec, 4);
        for (int i = 0; i < 5; i++) {
            double la = a.step().loss();
            assertThat(b.step().loss()).isEqualTo(la);
            c.step();
        }
        assertBitIdentical(a.model().parameters(), b.model().parameters());
        assertThat(Arrays.equals(a.model().parameters().get(0).value().data(), c.model().parameters().get(0).value().data())).isFalse();
    }

    @Test
    void nonFiniteWeightsStopTrainingAsDiverged() {
        Trainer t = TinyTraining.trainer(new MhaConfig(32, 4), TinyTraining.text(), TinyTraining.spec(5, 16, 4, 1e-2), 1);
        t.step();
        t.model().parameters().get(3).value().data()[0] = Double.NaN;
        assertThatThrownBy(t::step).isInstanceOf(RunFailedException.class)
                .satisfies(e -> assertThat(((RunFailedException) e).failureClass()).isEqualTo(FailureClass.DIVERGED))
                .hasMessageContaining("step 2");
    }

    @Test
    void checkpointOfAnotherModelIsRefusedAndLeavesWeightsUntouched(@TempDir Path dir) {
        Dataset data = TinyTraining.text();
        TrainingSpec spec = TinyTraining.spec(2, 16, 4, 1e-2);
        Trainer small = TinyTraining.trainer(new MhaConfig(32, 4), data, spec, 1);
        small.save(dir.resolve("small.safetensors"));
        Trainer wide = TinyTraining.trainer(new MhaConfig(64, 4), data, spec, 1);
        double[] before = wide.model().parameters().get(0).value().data().clone();
        assertThatThrownBy(() -> wide.restore(dir.resolve("small.safetensors")))
                .isInstanceOf(InvalidConfigException.class)
                .hasMessageContaining("resumeFrom").hasMessageContaining("dModel=64");
        assertThat(wide.model().parameters().get(0).value().data()).containsExactly(before);
    }

    @Test
    void sameShapedCheckpointOfAnotherVariantIsRefused(@TempDir Path dir) {
        Dataset data = TinyTraining.text();
        TrainingSpec spec = TinyTraining.spec(2, 16, 4, 1e-2);
        TinyTraining.trainer(new MhaConfig(32, 4), data, spec, 1).save(dir.resolve("mha.safetensors"));
        // GQA with as many KV heads as query heads has MHA's exact tensors; only the recorded config differs.
        Trainer gqa = TinyTraining.trainer(new GqaConfig(32, 4, 4), data, spec, 1);
        assertThatThrownBy(() -> gqa.restore(dir.resolve("mha.safetensors")))
                .isInstanceOf(InvalidConfigException.class).hasMessageContaining("MhaConfig");
    }

    @Test
    void scheduleWarmsUpThenDecaysToTenPercent() {
        LrSchedule s = new LrSchedule(1.0, 10, 110);
        assertThat(s.at(1)).isEqualTo(0.1);
        assertThat(s.at(10)).isEqualTo(1.0);
        assertThat(s.at(60)).isCloseTo(0.55, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(s.at(110)).isCloseTo(0.1, org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void adamWDecaysMatricesButNotVectors() {
        Parameter matrix = Parameter.zeros("w", 2, 2);
        Parameter vector = Parameter.zeros("g", 2);
        matrix.value().fill(1.0);
        vector.value().fill(1.0);
        AdamW opt = new AdamW(List.of(matrix, vector), 0.5);
        opt.step(0.1); // zero gradients: only weight decay moves anything
        assertThat(matrix.value().data()).containsOnly(0.95);
        assertThat(vector.value().data()).containsOnly(1.0);
    }

    @Test
    void clippingScalesToTheGlobalNorm() {
        Parameter a = Parameter.zeros("a", 2);
        a.grad().data()[0] = 3;
        a.grad().data()[1] = 4;
        double norm = GradientClip.globalNorm(List.of(a));
        assertThat(norm).isEqualTo(5.0);
        GradientClip.clip(List.of(a), norm, 1.0);
        assertThat(GradientClip.globalNorm(List.of(a))).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-6));
    }

    static void assertBitIdentical(List<Parameter> a, List<Parameter> b) {
        assertThat(a).hasSameSizeAs(b);
        for (int i = 0; i < a.size(); i++)
            assertThat(Arrays.equals(a.get(i).value().data(), b.get(i).value().data()))
                    .as("bit-identical %s", a.get(i).name()).isTrue();
    }
}
