package org.ccalab.engine.data;

/**
 * B sequences of T tokens: inputs [B*T] and next-token targets [B*T], row-major per sequence. A target
 * of {@link #IGNORE} is not scored (e.g. the key-value prefix of an associative-recall sequence).
 */
public record Batch(int[] inputs, int[] targets, int batch, int seqLen) {
    public static final int IGNORE = -1;

    public Batch {
        if (inputs.length != batch * seqLen || targets.length != batch * seqLen)
            throw new IllegalArgumentException("inputs/targets must hold batch * seqLen = " + batch * seqLen + " tokens");
    }

    public int scoredTargets() {
        int c = 0;
        for (int t : targets) if (t != IGNORE) c++;
        return c;
    }
}
