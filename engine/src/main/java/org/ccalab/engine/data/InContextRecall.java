package org.ccalab.engine.data;

import java.util.random.RandomGenerator;
import org.ccalab.common.validation.Check;
import org.ccalab.common.validation.InvalidConfigException;

/**
 * Basic in-context recall as ovq.md section 9 lays it out ([ours]: the paper's generator is not available):
 * a context of K = T / 8 key-value pairs with distinct keys, then filler, then Q = K queries at the end of the
 * sequence, each key of the context asked once in random order and answered by its value. Only answers are
 * scored. The vocabulary V (default 8192) holds a filler token 0, keys in [1, V / 2) and values in [V / 2, V).
 * The gap between the context and the queries grows with T, so recall has to reach across half the sequence.
 * Chance: 1 / (V / 2) blind, 1 / K guessing any value of the context.
 */
public final class InContextRecall extends SyntheticTask {
    public static final int DEFAULT_VOCAB = 8192;

    private final int vocab;

    public InContextRecall(int vocab, long seed) {
        super(seed);
        this.vocab = Check.inRange("vocab", vocab, 6, 1 << 20);
    }

    @Override
    public String name() {
        return "icr";
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    /** Pairs in the context (= queries) of a sequence of {@code seqLen} tokens. */
    public static int pairs(int seqLen) {
        return Math.max(1, seqLen / 8);
    }

    private int keyIds() {
        return vocab / 2 - 1;
    }

    @Override
    void checkLength(int seqLen) {
        Check.that(seqLen >= 8, "seqLen", "icr needs seqLen >= 8, got " + seqLen);
        if (pairs(seqLen) > keyIds())
            throw new InvalidConfigException("dataset", "icr at seqLen " + seqLen + " needs " + pairs(seqLen)
                    + " distinct keys but its vocabulary of " + vocab + " has " + keyIds() + "; use icr:<vocab> with vocab >= "
                    + 2 * (pairs(seqLen) + 1));
    }

    @Override
    void sequence(RandomGenerator rng, int[] seq, boolean[] answer) {
        int k = pairs(seq.length - 1);
        int[] keys = distinct(rng, keyIds(), k);
        int[] values = new int[k];
        for (int i = 0; i < k; i++) values[i] = vocab / 2 + rng.nextInt(vocab - vocab / 2);
        for (int i = 0; i < k; i++) {
            seq[2 * i] = 1 + keys[i];
            seq[2 * i + 1] = values[i];
        }
        int[] order = distinct(rng, k, k);
        int start = seq.length - 2 * k;
        for (int i = 0; i < k; i++) {
            seq[start + 2 * i] = 1 + keys[order[i]];
            seq[start + 2 * i + 1] = values[order[i]];
            answer[start + 2 * i + 1] = true;
        }
    }
}
