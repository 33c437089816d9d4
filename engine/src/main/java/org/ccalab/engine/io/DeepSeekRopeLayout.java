package org.ccalab.engine.io;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.engine.tensor.Tensor;

/**
 * DeepSeek checkpoints rotate interleaved pairs (2i, 2i + 1) of each RoPE slice; our MLA rotates halves
 * (i, i + Dr/2), mla.md section 2. Permuting the rope rows of the query projection (per head) and of
 * {@code kv_a_proj_with_mqa} by [0, 2, ..., Dr - 2, 1, 3, ..., Dr - 1] makes the two identical: if y = P x then
 * rotate_half(y) = P interleaved(x), and P applied to both q and k leaves every dot product unchanged.
 */
public final class DeepSeekRopeLayout {
    private DeepSeekRopeLayout() {}

    /** The row order of one rope slice: ours[j] = theirs[perm[j]]. */
    static int[] permutation(int ropeDim) {
        int[] p = new int[ropeDim];
        for (int j = 0; j < ropeDim / 2; j++) {
            p[j] = 2 * j;
            p[j + ropeDim / 2] = 2 * j + 1;
        }
        return p;
    }

    /** Hugging Face DeepSeek-V2/V3 weights (interleaved RoPE) -> this engine's layout. */
    public static Map<String, Tensor> fromInterleaved(Map<String, Tensor> weights, MlaConfig config) {
        return permute(weights, config, false);
    }

    /** This engine's layout -> Hugging Face DeepSeek (interleaved RoPE). */
    public static Map<String, Tensor> toInterleaved(Map<String, Tensor> weights, MlaConfig config) {
        return permute(weights, config, true);
    }

    private static Map<String, Tensor> permute(Map<String, Tensor> weights, MlaConfig c, boolean inverse) {
        Map<String, Tensor> out = new LinkedHashMap<>(weights);
        int r = c.qkRopeHeadDim(), dqk = c.qkHeadDim();
        String q = c.hasQueryCompression() ? "q_b_proj.weight" : "q_proj.weight";
        if (out.containsKey(q)) {
            Tensor t = out.get(q).copy();
            for (int h = 0; h < c.nHeads(); h++) permuteRows(t, h * dqk + c.qkNopeHeadDim(), r, inverse);
            out.put(q, t);
        }
        if (out.containsKey("kv_a_proj_with_mqa.weight")) {
            Tensor t = out.get("kv_a_proj_with_mqa.weight").copy();
            permuteRows(t, c.kvLoraRank(), r, inverse);
            out.put("kv_a_proj_with_mqa.weight", t);
        }
        return out;
    }

    private static void permuteRows(Tensor t, int firstRow, int count, boolean inverse) {
        if (t.rank() != 2 || firstRow + count > t.dim(0)) return; // a wrong shape is reported by the loader
        int cols = t.dim(1);
        double[] d = t.data(), old = java.util.Arrays.copyOfRange(d, firstRow * cols, (firstRow + count) * cols);
        int[] p = permutation(count);
        for (int j = 0; j < count; j++) {
            int dst = inverse ? p[j] : j, src = inverse ? j : p[j];
            System.arraycopy(old, src * cols, d, (firstRow + dst) * cols, cols);
        }
    }
}
