package org.ccalab.engine.attention.ovq;

import java.util.ArrayList;
import java.util.List;
import org.ccalab.common.variant.OvqSpec;

/**
 * The float64 reference of OVQ's core (ovq.md sections 4-5) on given normalised q, k and v, without the layer's
 * projections: the oracle of other backends' kernels (the CUDA kernel gets the same bf16 inputs, so the fold's
 * discrete choices can be compared exactly). Runs every (sequence, head) through the same {@link OvqHead} code as
 * {@link OvqAttention}, token by token, and its backward through the same {@link OvqHeadGradient}.
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

    /**
     * The core's gradients (ovq.md section 6, as {@link OvqAttention}'s backward takes them): for the normalised q
     * and k, for v [B, T, H, D], and d loss / d beta [H] summed over the batch.
     */
    public record Gradients(double[] dq, double[] dk, double[] dv, double[] dBeta) {}

    /** The backward of {@link #run} for d loss / d att = {@code dOut} [B, T, H, D]. */
    public static Gradients backward(OvqSpec spec, int headDim, int batch, int tokens, int heads, double[] q, double[] k,
                                     double[] v, double[] beta, double[] dOut) {
        check(headDim, batch, tokens, heads, beta, q, k, v, dOut);
        int elements = q.length, stride = heads * headDim;
        double[] dq = new double[elements], dk = new double[elements], dv = new double[elements], dBeta = new double[heads];
        double[] att = new double[elements];
        OvqHeadGradient gradient = new OvqHeadGradient(spec, headDim);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++) {
                OvqHead head = new OvqHead(spec, headDim);
                List<OvqHead.FoldRecord> folds = new ArrayList<>();
                int base = (b * tokens * heads + h) * headDim;
                for (int t = 0; t < tokens; t++) {
                    int off = base + t * stride;
                    head.step(q, off, k, off, v, off, beta[h], att, off, folds);
                }
                dBeta[h] += gradient.backward(head, folds, tokens, beta[h], q, k, v, dOut, base, stride, dq, dk, dv);
            }
        return new Gradients(dq, dk, dv, dBeta);
    }

    private static void check(int headDim, int batch, int tokens, int heads, double[] beta, double[]... rows) {
        long elements = (long) batch * tokens * heads * headDim;
        for (var a : rows)
            if (a.length != elements)
                throw new IllegalArgumentException("q, k, v, dOut: need " + elements + " elements [B, T, H, D], got " + a.length);
        if (beta.length != heads) throw new IllegalArgumentException("beta: need " + heads + " heads, got " + beta.length);
    }

    /** q, k [B, T, H, D] L2-normalised, v [B, T, H, D], beta [H]: T tokens through empty dictionaries. */
    public static Result run(OvqSpec spec, int headDim, int batch, int tokens, int heads, double[] q, double[] k,
                             double[] v, double[] beta) {
        check(headDim, batch, tokens, heads, beta, q, k, v);
        long elements = (long) batch * tokens * heads * headDim;
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
