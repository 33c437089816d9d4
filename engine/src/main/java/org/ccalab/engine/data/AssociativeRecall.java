package org.ccalab.engine.data;

import java.util.random.RandomGenerator;
import org.ccalab.common.validation.Check;

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
public final class AssociativeRecall extends SyntheticTask {
    public static final int DEFAULT_KEYS = 32;

    private final int keys;

    public AssociativeRecall(int keys, long seed) {
        super(seed);
        this.keys = Check.inRange("keys", keys, 2, 1 << 15);
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
    void checkLength(int seqLen) {
        Check.that(seqLen >= 4, "seqLen", "associative recall needs seqLen >= 4, got " + seqLen);
    }

    @Override
    void sequence(RandomGenerator rng, int[] seq, boolean[] scored) {
        int p = pairs(seq.length - 1);
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
}
