package org.ccalab.engine.backend.cuda;

/**
 * Sizes of one attention call on the device. Validated here so that a bad shape fails naming the field
 * before any kernel reads memory it should not.
 */
public record AttentionShape(int batch, int tokens, int qHeads, int kvHeads, int headDim) {
    public AttentionShape {
        positive("batch", batch);
        positive("tokens", tokens);
        positive("qHeads", qHeads);
        positive("kvHeads", kvHeads);
        if (qHeads % kvHeads != 0)
            throw new IllegalArgumentException("qHeads (" + qHeads + ") must be a multiple of kvHeads (" + kvHeads + ")");
        if (headDim != 64 && headDim != 128 && headDim != 256)
            throw new IllegalArgumentException("headDim " + headDim + " has no CUDA kernel (64, 128 or 256)");
    }

    private static void positive(String field, int v) {
        if (v <= 0) throw new IllegalArgumentException(field + " must be positive, was " + v);
    }

    public int group() {
        return qHeads / kvHeads;
    }

    /** Elements of q / o ({@code [B, T, Hq, D]}). */
    public long qElements() {
        return (long) batch * tokens * qHeads * headDim;
    }

    /** Elements of k or v ({@code [B, T, Hkv, D]}). */
    public long kvElements() {
        return (long) batch * tokens * kvHeads * headDim;
    }

    /** Causal forward FLOPs counted as FlashAttention does: half of 4·B·H·T²·D. */
    public double causalForwardFlops() {
        return 2.0 * batch * qHeads * (double) tokens * tokens * headDim;
    }

    /** Forward, decode and the attention backward exist for every head dim (64, 128, 256). */
    public boolean hasBackward() {
        return true;
    }

    /** The CCA prologue (and its backward and decode step) exists for every head dim (64, 128, 256). */
    public boolean hasCcaPrologue() {
        return true;
    }
}
