package org.ccalab.engine.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.ccalab.engine.model.SplitMix64;
import org.junit.jupiter.api.Test;

class DatasetTest {
    @Test
    void recallSequencesAnswerEveryQueryWithItsPairedValue() {
        AssociativeRecall r = new AssociativeRecall(16, 1);
        int seqLen = 24;
        Batch b = r.trainBatch(new SplitMix64(9), 8, seqLen);
        int p = r.pairs(seqLen);
        assertThat(p).isEqualTo(6);
        for (int s = 0; s < 8; s++) {
            Map<Integer, Integer> pairs = new HashMap<>();
            for (int i = 0; i < 2 * p; i += 2) {
                int k = b.inputs()[s * seqLen + i], v = b.inputs()[s * seqLen + i + 1];
                assertThat(k).isBetween(0, 15);
                assertThat(v).isBetween(16, 31);
                assertThat(pairs.put(k, v)).as("keys are distinct").isNull();
            }
            int scored = 0;
            for (int t = 0; t < seqLen; t++) {
                int target = b.targets()[s * seqLen + t];
                if (target == Batch.IGNORE) continue;
                scored++;
                assertThat(t).as("only the query region is scored").isGreaterThanOrEqualTo(2 * p);
                assertThat(target).isEqualTo(pairs.get(b.inputs()[s * seqLen + t]));
            }
            assertThat(scored).isEqualTo(6);
        }
    }

    @Test
    void recallIsAFunctionOfTheGeneratorState() {
        AssociativeRecall r = new AssociativeRecall(8, 1);
        Batch a = r.trainBatch(new SplitMix64(3), 2, 16);
        Batch b = r.trainBatch(new SplitMix64(3), 2, 16);
        assertThat(a.inputs()).containsExactly(b.inputs());
        List<Batch> v1 = r.validationBatches(2, 16);
        List<Batch> v2 = new AssociativeRecall(8, 1).validationBatches(2, 16);
        assertThat(v1.getFirst().inputs()).containsExactly(v2.getFirst().inputs());
        assertThat(v1.getFirst().inputs()).isNotEqualTo(a.inputs());
    }

    @Test
    void textSplitsTrainAndValidationByPosition() {
        int[] tokens = new int[1000];
        for (int i = 0; i < tokens.length; i++) tokens[i] = i % 97;
        TextDataset d = new TextDataset("t", tokens, 97);
        assertThat(d.trainTokens()).isEqualTo(900);
        assertThat(d.validationTokens()).isEqualTo(100);
        Batch b = d.trainBatch(new SplitMix64(1), 4, 10);
        for (int i = 0; i < b.inputs().length; i++)
            assertThat(b.targets()[i]).as("target is the next token").isEqualTo((b.inputs()[i] + 1) % 97);
        Batch v = d.validationBatches(2, 10).getFirst();
        assertThat(v.inputs()[0]).isEqualTo(900 % 97);
    }

    @Test
    void tooShortTextNamesTheDataset() {
        TextDataset d = new TextDataset("tiny", new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 11);
        assertThatThrownBy(() -> d.trainBatch(new SplitMix64(1), 1, 16)).hasMessageStartingWith("dataset:");
    }
}
