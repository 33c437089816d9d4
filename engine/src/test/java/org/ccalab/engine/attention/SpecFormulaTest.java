package org.ccalab.engine.attention;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.SplittableRandom;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.RopeSpec;
import org.ccalab.engine.io.LayerWeights;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * GQA and MLA forward against the spec's formulas written out token by token, sharing no code with the
 * engine (CCA has its independent golden vectors). One sequence; weights scrambled so attention is peaked.
 */
class SpecFormulaTest {
    private static double[] matvec(double[] w, int rows, int cols, double[] x) {
        double[] y = new double[rows];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) y[r] += w[r * cols + c] * x[c];
        return y;
    }

    /** Rotate-half on x[off .. off + r) at position pos (cca.md section 2 step 7). */
    private static void rope(double[] x, int off, int r, int pos, double base) {
        double[] c = x.clone();
        for (int i = 0; i < r / 2; i++) {
            double phi = pos * Math.pow(base, -2.0 * i / r), a = c[off + i], b = c[off + i + r / 2];
            x[off + i] = a * Math.cos(phi) - b * Math.sin(phi);
            x[off + i + r / 2] = b * Math.cos(phi) + a * Math.sin(phi);
        }
    }

    private static double[] row(Tensor x, int t) {
        int e = x.dim(-1);
        return java.util.Arrays.copyOfRange(x.data(), t * e, (t + 1) * e);
    }

    /** o_t = sum_{s<=t} softmax_s(scale q_t . k_s) v_s for one head. */
    private static double[] attend(double[][] q, double[][] k, double[][] v, int t, double scale) {
        double[] w = new double[t + 1];
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (int s = 0; s <= t; s++) {
            for (int c = 0; c < q[t].length; c++) w[s] += q[t][c] * k[s][c] * scale;
            max = Math.max(max, w[s]);
        }
        for (int s = 0; s <= t; s++) sum += w[s] = Math.exp(w[s] - max);
        double[] o = new double[v[0].length];
        for (int s = 0; s <= t; s++) for (int c = 0; c < o.length; c++) o[c] += w[s] / sum * v[s][c];
        return o;
    }

    @Test
    void gqaShouldFollowTheFormula() {
        int e = 24, h = 6, hkv = 2, d = 4, g = 3, tokens = 9;
        GqaConfig config = new GqaConfig(e, h, hkv, new RopeSpec(0.5, 100));
        AttentionLayer layer = AttentionLayers.create(config, new SplittableRandom(1));
        LayerChecks.scrambleParameters(layer, 2);
        Map<String, Tensor> w = LayerWeights.of(layer);
        Tensor x = LayerChecks.randn(new SplittableRandom(3), 1, 1, tokens, e);
        double[] y = layer.forward(x).output().data();
        double[][][] q = new double[h][tokens][], k = new double[hkv][tokens][], v = new double[hkv][tokens][];
        for (int t = 0; t < tokens; t++) {
            double[] qt = matvec(w.get("q_proj.weight").data(), h * d, e, row(x, t));
            double[] kt = matvec(w.get("k_proj.weight").data(), hkv * d, e, row(x, t));
            double[] vt = matvec(w.get("v_proj.weight").data(), hkv * d, e, row(x, t));
            for (int i = 0; i < h; i++) {
                q[i][t] = java.util.Arrays.copyOfRange(qt, i * d, (i + 1) * d);
                rope(q[i][t], 0, 2, t, 100);
            }
            for (int j = 0; j < hkv; j++) {
                k[j][t] = java.util.Arrays.copyOfRange(kt, j * d, (j + 1) * d);
                rope(k[j][t], 0, 2, t, 100);
                v[j][t] = java.util.Arrays.copyOfRange(vt, j * d, (j + 1) * d);
            }
        }
        for (int t = 0; t < tokens; t++) {
            double[] att = new double[h * d];
            for (int i = 0; i < h; i++) System.arraycopy(attend(q[i], k[i / g], v[i / g], t, 1 / Math.sqrt(d)), 0, att, i * d, d);
            double[] yt = matvec(w.get("o_proj.weight").data(), e, h * d, att);
            for (int c = 0; c < e; c++) assertThat(y[t * e + c]).isCloseTo(yt[c], org.assertj.core.data.Offset.offset(1e-12));
        }
    }

    @Test
    void mlaShouldFollowTheFormula() {
        int e = 16, n = 3, rq = 5, rkv = 6, dn = 4, dr = 4, dv = 3, dqk = dn + dr, tokens = 8;
        double eps = 1e-6, base = 500;
        MlaConfig config = new MlaConfig(e, n, rq, rkv, dn, dr, dv, base, eps);
        AttentionLayer layer = AttentionLayers.create(config, new SplittableRandom(1));
        LayerChecks.scrambleParameters(layer, 2);
        Map<String, Tensor> w = LayerWeights.of(layer);
        Tensor x = LayerChecks.randn(new SplittableRandom(3), 1, 1, tokens, e);
        double[] y = layer.forward(x).output().data();
        double[][][] q = new double[n][tokens][], k = new double[n][tokens][], v = new double[n][tokens][];
        for (int t = 0; t < tokens; t++) {
            // 1. Query through the normed low-rank path, RoPE on each head's last dr channels.
            double[] cq = rmsNorm(matvec(w.get("q_a_proj.weight").data(), rq, e, row(x, t)), w.get("q_a_layernorm.weight").data(), eps);
            double[] qt = matvec(w.get("q_b_proj.weight").data(), n * dqk, rq, cq);
            // 2. Latent c_t (normed) and the shared rope key from x.
            double[] a = matvec(w.get("kv_a_proj_with_mqa.weight").data(), rkv + dr, e, row(x, t));
            double[] c = rmsNorm(java.util.Arrays.copyOf(a, rkv), w.get("kv_a_layernorm.weight").data(), eps);
            double[] kr = java.util.Arrays.copyOfRange(a, rkv, rkv + dr);
            rope(kr, 0, dr, t, base);
            double[] kv = matvec(w.get("kv_b_proj.weight").data(), n * (dn + dv), rkv, c);
            for (int h = 0; h < n; h++) {
                q[h][t] = java.util.Arrays.copyOfRange(qt, h * dqk, (h + 1) * dqk);
                rope(q[h][t], dn, dr, t, base);
                k[h][t] = new double[dqk];
                System.arraycopy(kv, h * (dn + dv), k[h][t], 0, dn);
                System.arraycopy(kr, 0, k[h][t], dn, dr);
                v[h][t] = java.util.Arrays.copyOfRange(kv, h * (dn + dv) + dn, (h + 1) * (dn + dv));
            }
        }
        for (int t = 0; t < tokens; t++) {
            double[] att = new double[n * dv];
            for (int h = 0; h < n; h++) System.arraycopy(attend(q[h], k[h], v[h], t, 1 / Math.sqrt(dqk)), 0, att, h * dv, dv);
            double[] yt = matvec(w.get("o_proj.weight").data(), e, n * dv, att);
            for (int c = 0; c < e; c++) assertThat(y[t * e + c]).isCloseTo(yt[c], org.assertj.core.data.Offset.offset(1e-12));
        }
    }

    private static double[] rmsNorm(double[] x, double[] w, double eps) {
        double ms = 0;
        for (double v : x) ms += v * v / x.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = w[i] * x[i] / Math.sqrt(ms + eps);
        return y;
    }
}
