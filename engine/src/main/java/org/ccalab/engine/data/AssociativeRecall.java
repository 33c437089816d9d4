package org.ccalab.engine.data;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;
import org.ccalab.common.validation.Check;
import org.ccalab.engine.model.SplitMix64;

/**
 * Multi-query associative recall (Zoology's MQAR, Arora et al. 2023): a sequence lists P key-value pairs
 * {@code k1 v1 ... kP vP}, then asks queries {@code k v} where the key is one of the P keys and the value
 * must be recalled; only the query answers are scored. Keys occupy ids [0, K), values [K, K + K), so the
 * vocabulary is 2K. Chance is 1/K for a blind guess and 1/P for guessing any value seen in the prefix, so
 * accuracy clearly above 1/P means the model retrieves by key.
 *
 * <p>Layout of a sequence of T tokens (T + 1 generated, inputs = s[0..T), targets = s[1..T]): 2P prefix
 * tokens with P = min(K, max(1, T / 4)), then query pairs until the end.
 */
public final class AssociativeRecall implements Dataset {
    public static final int DEFAULT_KEYS = 32;
    private static final int VALIDATION_BATCHES = 4;

    private final int keys;
    private final long validationSeed;

    public AssociativeRecall(int keys, long seed) {
        this.keys = Check.inRange("keys", keys, 2, 1 << 15);
        this.validationSeed = seed;
    }

    @Override
    public String name() {
        return "recall";
    }

    @Override
    public int vocabSize() {
        return 2 * keys;
    }

    public int keys() {
        return keys;
    }

    /** Key-value pairs in the prefix of a sequence of {@code seqLen} tokens. */
    public int pairs(int seqLen) {
        return Math.min(keys, Math.max(1, seqLen / 4));
    }

    @Override
    public Batch trainBatch(RandomGenerator rng, int batch, int seqLen) {
        Check.that(seqLen >= 4, "seqLen", "associative recall needs seqLen >= 4, got " + seqLen);
        int[] inputs = new int[batch * seqLen];
        int[] targets = new int[batch * seqLen];
        int[] seq = new int[seqLen + 1];
        boolean[] scored = new boolean[seqLen + 1];
        int p = pairs(seqLen);
        for (int b = 0; b < batch; b++) {
            sequence(rng, seq, scored, p);
            for (int t = 0; t < seqLen; t++) {
                inputs[b * seqLen + t] = seq[t];
                targets[b * seqLen + t] = scored[t + 1] ? seq[t + 1] : Batch.IGNORE;
            }
        }
        return new Batch(inputs, targets, batch, seqLen);
    }

    private void sequence(RandomGenerator rng, int[] seq, boolean[] scored, int p) {
        java.util.Arrays.fill(scored, false);
        // P distinct keys by a partial Fisher-Yates shuffle; values drawn freely.
        int[] perm = new int[keys];
        for (int i = 0; i < keys; i++) perm[i] = i;
        int[] pairKeys = new int[p];
        int[] pairValues = new int[p];
        for (int i = 0; i < p; i++) {
            int j = i + rng.nextInt(keys - i);
            int tmp = perm[i];
            perm[i] = perm[j];
            perm[j] = tmp;
            pairKeys[i] = perm[i];
            pairValues[i] = keys + rng.nextInt(keys);
        }
        int pos = 0;
        for (int i = 0; i < p && pos + 1 < seq.length; i++) {
            seq[pos++] = pairKeys[i];
            seq[pos++] = pairValues[i];
        }
        while (pos < seq.length) {
            int q = rng.nextInt(p);
            seq[pos++] = pairKeys[q];
            if (pos < seq.length) {
                seq[pos] = pairValues[q];
                scored[pos] = true;
                pos++;
            }
        }
    }

    @Override
    public List<Batch> validationBatches(int batch, int seqLen) {
        SplitMix64 rng = SplitMix64.derive(validationSeed, "recall-validation");
        List<Batch> out = new ArrayList<>(VALIDATION_BATCHES);
        for (int i = 0; i < VALIDATION_BATCHES; i++) out.add(trainBatch(rng, batch, seqLen));
        return out;
    }

    @Override
    public boolean isRecallTask() {
        return true;
    }
}
