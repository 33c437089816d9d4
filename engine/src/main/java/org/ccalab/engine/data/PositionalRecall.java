package org.ccalab.engine.data;

import java.util.random.RandomGenerator;
import org.ccalab.common.validation.Check;
import org.ccalab.common.validation.InvalidConfigException;

/**
 * Positional in-context recall ([ours]: ovq.md section 9 names the task, the paper's definition is not
 * available): every key of the context occurs R = 4 times, each time with its own value, in shuffled order; a
 * query names a key and an occurrence n in 1..R and is answered by the value of the key's n-th occurrence, so
 * recall needs order, not only content. Layout: a context of K = max(1, T / 16) keys x R pairs (about half the
 * sequence), then query triples {@code key ordinal value} to the end, the value scored. Vocabulary: filler 0,
 * ordinals 1..R, keys [R + 1, R + 1 + N), values [R + 1 + N, R + 1 + 2N) for N key ids (default 2048).
 * Chance: 1 / R for a model that finds the key's values but not which is which.
 */
public final class PositionalRecall extends SyntheticTask {
    public static final int OCCURRENCES = 4;
    public static final int DEFAULT_KEY_IDS = 2048;

    private final int keyIds;

    public PositionalRecall(int keyIds, long seed) {
        super(seed);
        this.keyIds = Check.inRange("keys", keyIds, 1, 1 << 18);
    }

    @Override
    public String name() {
        return "picr";
    }

    @Override
    public int vocabSize() {
        return 1 + OCCURRENCES + 2 * keyIds;
    }

    /** Distinct keys in the context of a sequence of {@code seqLen} tokens. */
    public static int contextKeys(int seqLen) {
        return Math.max(1, seqLen / (4 * OCCURRENCES));
    }

    @Override
    void checkLength(int seqLen) {
        Check.that(seqLen >= 4 * OCCURRENCES, "seqLen", "picr needs seqLen >= " + 4 * OCCURRENCES + ", got " + seqLen);
        if (contextKeys(seqLen) > keyIds)
            throw new InvalidConfigException("dataset", "picr at seqLen " + seqLen + " needs " + contextKeys(seqLen)
                    + " distinct keys, it has " + keyIds + "; use picr:<keys> with keys >= " + contextKeys(seqLen));
    }

    @Override
    void sequence(RandomGenerator rng, int[] seq, boolean[] answer) {
        int k = contextKeys(seq.length - 1), r = OCCURRENCES, keyBase = 1 + r, valueBase = keyBase + keyIds;
        int[] keys = distinct(rng, keyIds, k);
        int[] slots = distinct(rng, k * r, k * r); // slot -> (key i = s / r); occurrence order follows position
        int[][] valueAt = new int[k][r];
        int[] seen = new int[k];
        for (int p = 0; p < k * r; p++) {
            int i = slots[p] / r;
            int value = valueBase + rng.nextInt(keyIds);
            valueAt[i][seen[i]++] = value;
            seq[2 * p] = keyBase + keys[i];
            seq[2 * p + 1] = value;
        }
        for (int pos = 2 * k * r; pos + 2 < seq.length; pos += 3) {
            int i = rng.nextInt(k), n = rng.nextInt(r);
            seq[pos] = keyBase + keys[i];
            seq[pos + 1] = 1 + n;
            seq[pos + 2] = valueAt[i][n];
            answer[pos + 2] = true;
        }
    }
}
