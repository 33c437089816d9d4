package org.ccalab.engine.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.random.RandomGenerator;
import org.ccalab.engine.model.SplitMix64;

/**
 * A task generated from a seed whose scored targets are all answers, so token accuracy is the task's accuracy.
 * A subclass writes one sequence of T + 1 tokens and marks the positions whose token is an answer; inputs are
 * tokens [0, T) and targets tokens [1, T], scored where marked. Validation batches come from a generator derived
 * from the dataset's seed, so they are the same on every call and every machine.
 */
abstract class SyntheticTask implements Dataset {
    private static final int VALIDATION_BATCHES = 4;

    private final long validationSeed;

    SyntheticTask(long seed) {
        this.validationSeed = seed;
    }

    /** Fills {@code seq} (length T + 1) and sets {@code answer[i]} where seq[i] is scored; both arrive cleared. */
    abstract void sequence(RandomGenerator rng, int[] seq, boolean[] answer);

    /** Refuses a sequence length the task cannot lay out, naming {@code seqLen}. */
    abstract void checkLength(int seqLen);

    @Override
    public final Batch trainBatch(RandomGenerator rng, int batch, int seqLen) {
        checkLength(seqLen);
        int[] inputs = new int[batch * seqLen];
        int[] targets = new int[batch * seqLen];
        int[] seq = new int[seqLen + 1];
        boolean[] answer = new boolean[seqLen + 1];
        for (int b = 0; b < batch; b++) {
            Arrays.fill(seq, 0);
            Arrays.fill(answer, false);
            sequence(rng, seq, answer);
            for (int t = 0; t < seqLen; t++) {
                inputs[b * seqLen + t] = seq[t];
                targets[b * seqLen + t] = answer[t + 1] ? seq[t + 1] : Batch.IGNORE;
            }
        }
        return new Batch(inputs, targets, batch, seqLen);
    }

    @Override
    public final List<Batch> validationBatches(int batch, int seqLen) {
        SplitMix64 rng = SplitMix64.derive(validationSeed, name() + "-validation");
        List<Batch> out = new ArrayList<>(VALIDATION_BATCHES);
        for (int i = 0; i < VALIDATION_BATCHES; i++) out.add(trainBatch(rng, batch, seqLen));
        return out;
    }

    @Override
    public final boolean isRecallTask() {
        return true;
    }

    /** The first {@code count} entries of a uniformly random permutation of [0, n) (partial Fisher-Yates). */
    static int[] distinct(RandomGenerator rng, int n, int count) {
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        for (int i = 0; i < count; i++) {
            int j = i + rng.nextInt(n - i);
            int tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
        }
        return Arrays.copyOf(perm, count);
    }
}
