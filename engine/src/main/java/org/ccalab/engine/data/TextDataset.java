package org.ccalab.engine.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.random.RandomGenerator;
import org.ccalab.common.validation.InvalidConfigException;

/**
 * A tokenised text: the first 90% trains (random windows), the last 10% validates (consecutive windows,
 * at most {@link #MAX_VALIDATION_BATCHES} batches). The split is by position so no window crosses it.
 */
public final class TextDataset implements Dataset {
    public static final double VALIDATION_FRACTION = 0.1;
    public static final int MAX_VALIDATION_BATCHES = 8;

    private final String name;
    private final int vocabSize;
    private final int[] train;
    private final int[] validation;

    public TextDataset(String name, int[] tokens, int vocabSize) {
        this.name = name;
        this.vocabSize = vocabSize;
        int split = (int) Math.round(tokens.length * (1 - VALIDATION_FRACTION));
        this.train = Arrays.copyOfRange(tokens, 0, split);
        this.validation = Arrays.copyOfRange(tokens, split, tokens.length);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    public int trainTokens() {
        return train.length;
    }

    public int validationTokens() {
        return validation.length;
    }

    @Override
    public Batch trainBatch(RandomGenerator rng, int batch, int seqLen) {
        requireLength(train, seqLen, "training");
        int[] inputs = new int[batch * seqLen];
        int[] targets = new int[batch * seqLen];
        for (int b = 0; b < batch; b++) {
            int start = rng.nextInt(train.length - seqLen);
            System.arraycopy(train, start, inputs, b * seqLen, seqLen);
            System.arraycopy(train, start + 1, targets, b * seqLen, seqLen);
        }
        return new Batch(inputs, targets, batch, seqLen);
    }

    @Override
    public List<Batch> validationBatches(int batch, int seqLen) {
        requireLength(validation, seqLen, "validation");
        List<Batch> out = new ArrayList<>();
        int windows = (validation.length - 1) / seqLen;
        int batches = Math.min(MAX_VALIDATION_BATCHES, Math.max(1, windows / batch));
        for (int k = 0; k < batches; k++) {
            int[] inputs = new int[batch * seqLen];
            int[] targets = new int[batch * seqLen];
            for (int b = 0; b < batch; b++) {
                // Wrap around when the split holds fewer than batch windows: a small file still evaluates.
                int start = ((k * batch + b) % windows) * seqLen;
                System.arraycopy(validation, start, inputs, b * seqLen, seqLen);
                System.arraycopy(validation, start + 1, targets, b * seqLen, seqLen);
            }
            out.add(new Batch(inputs, targets, batch, seqLen));
        }
        return out;
    }

    private void requireLength(int[] split, int seqLen, String which) {
        if (split.length < seqLen + 1)
            throw new InvalidConfigException("dataset", name + " has " + split.length + " " + which
                    + " tokens, fewer than seqLen + 1 = " + (seqLen + 1));
    }

    @Override
    public boolean isRecallTask() {
        return false;
    }
}
