package org.ccalab.engine.attention.ovq;

import org.ccalab.common.variant.OvqSpec;

/**
 * The float64 reference of OVQ's core (ovq.md sections 4-5) on given normalised q, k and v, without the layer's
 * projections: the oracle of other backends' kernels (the CUDA kernel gets the same bf16 inputs, so the fold's
 * discrete choices can be compared exactly). Runs every (sequence, head) through the same {@link OvqHead} code as
 * {@link OvqAttention}, token by token.
 */
public final class OvqCoreReference {
    private OvqCoreReference() {}

    /**
     * The reads and each head's dictionary after the run.
     *
     * @param att    [B, T, H, D]
     * @param size   [B * H] active centroids n
     * @param counts [B * H][n] c_j
     * @param folded [B * H] chunks folded
     */
    public record Result(double[] att, int[] size, double[][] counts, int[] folded) {}

    /** q, k [B, T, H, D] L2-normalised, v [B, T, H, D], beta [H]: T tokens through empty dictionaries. */
    public static Result run(OvqSpec spec, int headDim, int batch, int tokens, int heads, double[] q, double[] k,
                             double[] v, double[] beta) {
        long elements = (long) batch * tokens * heads * headDim;
        for (var a : new double[][] {q, k, v})
            if (a.length != elements)
                throw new IllegalArgumentException("q, k, v: need " + elements + " elements [B, T, H, D], got " + a.length);
        if (beta.length != heads) throw new IllegalArgumentException("beta: need " + heads + " heads, got " + beta.length);
        double[] att = new double[(int) elements];
        int stride = heads * headDim;
        int[] size = new int[batch * heads], folded = new int[batch * heads];
        double[][] counts = new double[batch * heads][];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++) {
                OvqHead head = new OvqHead(spec, headDim);
                int base = (b * tokens * heads + h) * headDim;
                for (int t = 0; t < tokens; t++) {
                    int off = base + t * stride;
                    head.step(q, off, k, off, v, off, beta[h], att, off, null);
                }
                int bh = b * heads + h;
                size[bh] = head.size();
                folded[bh] = head.foldedChunks();
                counts[bh] = java.util.Arrays.copyOf(head.counts(), head.size());
            }
        return new Result(att, size, counts, folded);
    }
}
