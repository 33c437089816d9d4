package org.ccalab.engine.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.model.SplitMix64;
import org.ccalab.engine.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

/** ovq.md section 9's tasks: each answer is recomputed here from the visible tokens alone. */
class SyntheticTasksTest {
    /** Sequence s of a batch as T + 1 tokens: the inputs and the last target (every task scores its last slot). */
    private static int[] row(Batch b, int s) {
        int t = b.seqLen();
        int[] out = new int[t];
        System.arraycopy(b.inputs(), s * t, out, 0, t);
        return out;
    }

    @Test
    void icrAsksEveryContextKeyOnceAtTheEndAcrossAFillerGap() {
        InContextRecall icr = new InContextRecall(64, 5);
        int seqLen = 128, k = InContextRecall.pairs(seqLen);
        assertThat(k).isEqualTo(16);
        Batch b = icr.trainBatch(new SplitMix64(11), 4, seqLen);
        for (int s = 0; s < 4; s++) {
            int[] in = row(b, s);
            Map<Integer, Integer> pairs = new HashMap<>();
            for (int i = 0; i < 2 * k; i += 2) {
                assertThat(in[i]).as("key").isBetween(1, 31);
                assertThat(in[i + 1]).as("value").isBetween(32, 63);
                assertThat(pairs.put(in[i], in[i + 1])).as("keys are distinct").isNull();
            }
            Set<Integer> asked = new HashSet<>();
            int scored = 0;
            for (int t = 0; t < seqLen; t++) {
                int target = b.targets()[s * seqLen + t];
                if (target == Batch.IGNORE) {
                    if (t >= 2 * k && t < seqLen + 1 - 2 * k) assertThat(in[t]).as("filler").isZero();
                    continue;
                }
                scored++;
                assertThat(t).as("queries sit at the end").isGreaterThanOrEqualTo(seqLen + 1 - 2 * k);
                assertThat(asked.add(in[t])).as("each key asked once").isTrue();
                assertThat(target).isEqualTo(pairs.get(in[t]));
            }
            assertThat(scored).isEqualTo(k);
            assertThat(asked).isEqualTo(pairs.keySet());
        }
        assertThat(icr.isRecallTask()).isTrue();
        assertThat(icr.vocabSize()).isEqualTo(64);
    }

    @Test
    void icrRefusesALengthItsVocabularyCannotHoldNamingTheFix() {
        InContextRecall icr = new InContextRecall(InContextRecall.DEFAULT_VOCAB, 1);
        assertThat(icr.trainBatch(new SplitMix64(1), 1, 16_384).scoredTargets()).isEqualTo(2048);
        InvalidConfigException e = catchThrowableOfType(InvalidConfigException.class,
                () -> icr.trainBatch(new SplitMix64(1), 1, 65_536));
        assertThat(e.field()).isEqualTo("dataset");
        assertThat(e.reason()).contains("icr:<vocab>").contains("16386");
    }

    @Test
    void picrAnswersTheValueOfTheNamedOccurrence() {
        PositionalRecall picr = new PositionalRecall(40, 3);
        int seqLen = 160, k = PositionalRecall.contextKeys(seqLen), r = PositionalRecall.OCCURRENCES;
        assertThat(k).isEqualTo(10);
        Batch b = picr.trainBatch(new SplitMix64(4), 3, seqLen);
        int distinctOccurrenceValues = 0;
        for (int s = 0; s < 3; s++) {
            int[] in = row(b, s);
            Map<Integer, List<Integer>> occurrences = new HashMap<>();
            for (int i = 0; i < 2 * k * r; i += 2) {
                assertThat(in[i]).as("key").isBetween(1 + r, r + 40);
                assertThat(in[i + 1]).as("value").isBetween(1 + r + 40, r + 80);
                occurrences.computeIfAbsent(in[i], x -> new ArrayList<>()).add(in[i + 1]);
            }
            assertThat(occurrences).hasSize(k).allSatisfy((key, values) -> assertThat(values).hasSize(r));
            for (List<Integer> v : occurrences.values()) if (new HashSet<>(v).size() > 1) distinctOccurrenceValues++;
            int scored = 0;
            for (int t = 0; t < seqLen; t++) {
                int target = b.targets()[s * seqLen + t];
                if (target == Batch.IGNORE) continue;
                scored++;
                int ordinal = in[t], key = in[t - 1];
                assertThat(ordinal).isBetween(1, r);
                assertThat(target).isEqualTo(occurrences.get(key).get(ordinal - 1));
            }
            assertThat(scored).isEqualTo((seqLen + 1 - 2 * k * r) / 3);
        }
        // Values differ between occurrences (else position would not matter): nearly every key, at 40 value ids.
        assertThat(distinctOccurrenceValues).isGreaterThanOrEqualTo(28);
    }

    @Test
    void linregAnswersFollowOneLinearMapPerFunction() {
        LinearRegressionIcl lr = new LinearRegressionIcl(1, 7);
        int per = LinearRegressionIcl.DIM + 2, examples = 200, seqLen = per * examples;
        Batch b = lr.trainBatch(new SplitMix64(2), 1, seqLen);
        int[] in = row(b, 0);
        double[][] x = new double[examples - 1][LinearRegressionIcl.DIM];
        double[] y = new double[examples - 1];
        int scored = 0;
        for (int e = 0; e < examples - 1; e++) {
            assertThat(in[e * per]).as("function id").isZero();
            for (int j = 0; j < LinearRegressionIcl.DIM; j++) x[e][j] = LinearRegressionIcl.centre(in[e * per + 1 + j] - 1);
            int answerAt = e * per + per - 2; // target index t answers input t + 1
            assertThat(b.targets()[answerAt]).isEqualTo(in[answerAt + 1]);
            y[e] = LinearRegressionIcl.centre(in[answerAt + 1] - 1);
        }
        for (int target : b.targets()) if (target != Batch.IGNORE) scored++;
        assertThat(scored).isEqualTo(examples); // T + 1 generated tokens hold all 200 examples and one filler
        // Least squares of y on x: binned values still follow one linear map (R^2 near 1; bins are 0.094 wide).
        double rss = residualOfLeastSquares(x, y), tss = 0, mean = 0;
        for (double v : y) mean += v / y.length;
        for (double v : y) tss += (v - mean) * (v - mean);
        assertThat(1 - rss / tss).isGreaterThan(0.95);
    }

    @Test
    void linregBinsCoverTheRangeAndClampOutside() {
        assertThat(LinearRegressionIcl.bin(-10)).isZero();
        assertThat(LinearRegressionIcl.bin(10)).isEqualTo(LinearRegressionIcl.BINS - 1);
        for (int bin = 0; bin < LinearRegressionIcl.BINS; bin++)
            assertThat(LinearRegressionIcl.bin(LinearRegressionIcl.centre(bin))).isEqualTo(bin);
    }

    @Test
    void everyTaskIsAFunctionOfItsGeneratorAndHasFixedValidationBatches() {
        for (Dataset d : List.of(new InContextRecall(64, 1), new PositionalRecall(16, 1), new LinearRegressionIcl(4, 1))) {
            Batch a = d.trainBatch(new SplitMix64(3), 2, 64), again = d.trainBatch(new SplitMix64(3), 2, 64);
            assertThat(a.inputs()).as(d.name()).containsExactly(again.inputs());
            assertThat(a.targets()).containsExactly(again.targets());
            assertThat(d.validationBatches(2, 64).getFirst().inputs()).containsExactly(d.validationBatches(2, 64).getFirst().inputs());
            assertThat(d.validationBatches(2, 64).getFirst().inputs()).isNotEqualTo(a.inputs());
            for (int token : a.inputs()) assertThat(token).isBetween(0, d.vocabSize() - 1);
            assertThat(a.scoredTargets()).isPositive();
        }
    }

    @Test
    void datasetsResolveTheTaskNamesAndNameTheFieldOnBadSizes() {
        Datasets datasets = new Datasets(null);
        ByteTokenizer bytes = new ByteTokenizer();
        assertThat(datasets.open("icr", bytes, 1).vocabSize()).isEqualTo(InContextRecall.DEFAULT_VOCAB);
        assertThat(datasets.open("icr:256", bytes, 1).vocabSize()).isEqualTo(256);
        assertThat(datasets.open("picr:8", bytes, 1).vocabSize()).isEqualTo(1 + 4 + 16);
        assertThat(datasets.open("linreg", bytes, 1).vocabSize()).isEqualTo(16 + 64);
        assertThat(datasets.open("linreg:128", bytes, 1).name()).isEqualTo("linreg");
        for (String bad : List.of("icr:x", "picr:0", "linreg:129", "recall:1", "icr:4"))
            assertThat(catchThrowableOfType(InvalidConfigException.class, () -> datasets.open(bad, bytes, 1)).field())
                    .as(bad).isEqualTo("dataset");
        assertThat(catchThrowableOfType(InvalidConfigException.class, () -> datasets.open("icr:4", bytes, 1)).reason())
                .isEqualTo("icr:<vocab>: vocab must be in [6, 1048576], got 4");
        assertThat(catchThrowableOfType(InvalidConfigException.class, () -> datasets.open("linreg:129", bytes, 1)).reason())
                .startsWith("linreg:<functions>: functions must be in [1, 128]");
        assertThat(catchThrowableOfType(InvalidConfigException.class, () -> datasets.open("mqar", bytes, 1)).reason())
                .contains("icr").contains("picr").contains("linreg");
    }

    /** Residual sum of squares of y against the best linear map of x (normal equations, Gaussian elimination). */
    private static double residualOfLeastSquares(double[][] x, double[] y) {
        int n = x[0].length;
        double[][] a = new double[n][n + 1];
        for (int r = 0; r < x.length; r++)
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) a[i][j] += x[r][i] * x[r][j];
                a[i][n] += x[r][i] * y[r];
            }
        for (int c = 0; c < n; c++) {
            int p = c;
            for (int r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
            double[] tmp = a[c];
            a[c] = a[p];
            a[p] = tmp;
            for (int r = 0; r < n; r++) {
                if (r == c) continue;
                double f = a[r][c] / a[c][c];
                for (int j = c; j <= n; j++) a[r][j] -= f * a[c][j];
            }
        }
        double rss = 0;
        for (int r = 0; r < x.length; r++) {
            double pred = 0;
            for (int i = 0; i < n; i++) pred += a[i][n] / a[i][i] * x[r][i];
            rss += (y[r] - pred) * (y[r] - pred);
        }
        return rss;
    }
}
