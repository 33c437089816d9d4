package org.ccalab.engine.attention.ovq;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ccalab.common.variant.OvqAssignment;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.variant.OvqUpdate;

/**
 * A deliberately plain OVQ forward written from ovq.md sections 4 and 5 alone, sharing no code with the layer:
 * per sequence and head, per token, with lists of centroids and direct formulas (squared distances as
 * sum (k - mu)^2, the growth from {@link OvqSpec#dictionaryAfterChunks}, the read without a running max but
 * with one max subtraction). The L2 norms use the layer's stated definition x / sqrt(|x|^2 + 1e-12).
 *
 * <p>{@code readWeights}/{@code readX} feed the projections of the read (q, the chunk's own k and v, beta, the
 * output projection); {@code stateWeights}/{@code stateX} feed the keys and values folded into the dictionary.
 * With both the same this is the layer's forward; with the state side held fixed it is the function whose
 * derivative the layer's backward returns when stateGradient is false.
 */
final class OvqReference {
    private static final double EPS = 1e-12;

    private OvqReference() {}

    /** y [B, T, E] for x [B, T, E]; weights by safetensors name. */
    static double[] forward(OvqConfig c, int batch, int tokens, Map<String, double[]> readWeights, double[] readX,
                            Map<String, double[]> stateWeights, double[] stateX) {
        int e = c.dModel(), h = c.nHeads(), d = c.headDim();
        OvqSpec spec = c.ovq();
        double[] y = new double[batch * tokens * e];
        for (int b = 0; b < batch; b++) {
            double[][] att = new double[tokens][h * d];
            for (int head = 0; head < h; head++) {
                double beta = readWeights.containsKey("beta_log") ? Math.exp(readWeights.get("beta_log")[head]) : Math.sqrt(d);
                double[][] q = new double[tokens][], kr = new double[tokens][], vr = new double[tokens][];
                double[][] ks = new double[tokens][], vs = new double[tokens][];
                for (int t = 0; t < tokens; t++) {
                    int row = (b * tokens + t) * e;
                    q[t] = unit(headProjection(readWeights.get("q_proj.weight"), readX, row, e, head, d));
                    kr[t] = unit(headProjection(readWeights.get("k_proj.weight"), readX, row, e, head, d));
                    vr[t] = headProjection(readWeights.get("v_proj.weight"), readX, row, e, head, d);
                    ks[t] = unit(headProjection(stateWeights.get("k_proj.weight"), stateX, row, e, head, d));
                    vs[t] = headProjection(stateWeights.get("v_proj.weight"), stateX, row, e, head, d);
                }
                double[][] o = head(spec, d, beta, q, kr, vr, ks, vs, null);
                for (int t = 0; t < tokens; t++) System.arraycopy(o[t], 0, att[t], head * d, d);
            }
            double[] wo = readWeights.get("o_proj.weight"); // [E, H*D]
            for (int t = 0; t < tokens; t++)
                for (int i = 0; i < e; i++) {
                    double s = 0;
                    for (int j = 0; j < h * d; j++) s += wo[i * h * d + j] * att[t][j];
                    y[(b * tokens + t) * e + i] = s;
                }
        }
        return y;
    }

    /** The dictionary of one head as the spec states it: centroids, value sums U, value means nu, counts. */
    static final class Dictionary {
        final List<double[]> mu = new ArrayList<>(), sums = new ArrayList<>(), means = new ArrayList<>();
        final List<Double> count = new ArrayList<>();
    }

    /**
     * One head: q[t] reads (state built from ks, vs) plus its chunk's kr, vr; returns o [T][d]. The dictionary
     * after the last fold is left in {@code out} when given.
     */
    static double[][] head(OvqSpec spec, int d, double beta, double[][] q, double[][] kr, double[][] vr,
                           double[][] ks, double[][] vs, Dictionary out) {
        int tokens = q.length, chunkLen = spec.chunkLength();
        boolean constant = spec.update() == OvqUpdate.CONSTANT;
        Dictionary dict = out == null ? new Dictionary() : out;
        double[][] o = new double[tokens][d];
        for (int start = 0, b = 0; start < tokens; start += chunkLen, b++) {
            int end = Math.min(tokens, start + chunkLen);
            for (int t = start; t < end; t++) {
                int n = dict.mu.size();
                List<Double> logits = new ArrayList<>();
                List<double[]> numerators = new ArrayList<>();
                List<Double> weights = new ArrayList<>();
                for (int j = 0; j < n; j++) {
                    double[] key = spec.renormalizeCentroids() ? unit(dict.mu.get(j)) : dict.mu.get(j);
                    logits.add(beta * dot(q[t], key));
                    numerators.add(constant ? scale(dict.means.get(j), dict.count.get(j)) : dict.sums.get(j));
                    weights.add(dict.count.get(j));
                }
                if (!spec.stateOnly())
                    for (int s = start; s <= t; s++) {
                        logits.add(beta * dot(q[t], kr[s]));
                        numerators.add(vr[s]);
                        weights.add(1.0);
                    }
                if (logits.isEmpty()) continue;
                double max = Double.NEGATIVE_INFINITY;
                for (double l : logits) max = Math.max(max, l);
                double den = 0;
                double[] num = new double[d];
                for (int i = 0; i < logits.size(); i++) {
                    double w = Math.exp(logits.get(i) - max);
                    den += w * weights.get(i);
                    for (int c = 0; c < d; c++) num[c] += w * numerators.get(i)[c];
                }
                for (int c = 0; c < d; c++) o[t][c] = num[c] / den;
            }
            if (end - start == chunkLen) fold(spec, d, dict, ks, vs, start, end, b);
        }
        return o;
    }

    /** Section 4 steps 1-3 for chunk b = [start, end). */
    static void fold(OvqSpec spec, int d, Dictionary dict, double[][] k, double[][] v, int start, int end, int b) {
        int len = end - start;
        int grow = spec.dictionaryAfterChunks(b + 1) - spec.dictionaryAfterChunks(b);
        boolean[] founder = new boolean[len];
        for (int f = 0; f < grow; f++) {
            int pick = -1;
            double far = Double.NEGATIVE_INFINITY;
            for (int s = 0; s < len; s++) {
                if (founder[s]) continue;
                double score = Double.POSITIVE_INFINITY;
                for (double[] m : dict.mu) score = Math.min(score, squaredDistance(k[start + s], m));
                if (pick < 0 || score > far) {
                    pick = s;
                    far = score;
                }
            }
            founder[pick] = true;
            dict.mu.add(k[start + pick].clone());
            dict.sums.add(v[start + pick].clone());
            dict.means.add(v[start + pick].clone());
            dict.count.add(1.0);
        }
        int n = dict.mu.size();
        int[] m = new int[n];
        double[][] sk = new double[n][d], sv = new double[n][d];
        for (int s = 0; s < len; s++) {
            if (founder[s]) continue;
            int a = assign(spec.assignment(), k[start + s], dict.mu);
            m[a]++;
            for (int c = 0; c < d; c++) {
                sk[a][c] += k[start + s][c];
                sv[a][c] += v[start + s][c];
            }
        }
        double eta = spec.constantRate();
        for (int j = 0; j < n; j++) {
            if (m[j] == 0) continue;
            double[] mu = dict.mu.get(j), u = dict.sums.get(j), nu = dict.means.get(j);
            double cNew = dict.count.get(j) + m[j];
            for (int c = 0; c < d; c++) {
                if (spec.update() == OvqUpdate.NEWTON) {
                    mu[c] = mu[c] + (sk[j][c] - m[j] * mu[c]) / cNew;
                } else {
                    mu[c] = mu[c] + eta * (sk[j][c] / m[j] - mu[c]);
                    nu[c] = nu[c] + eta * (sv[j][c] / m[j] - nu[c]);
                }
                u[c] = u[c] + sv[j][c];
            }
            dict.count.set(j, cNew);
        }
    }

    /** argmin |k - mu_j|^2 or argmax k . mu_j, ties to the lowest index. */
    static int assign(OvqAssignment rule, double[] k, List<double[]> mu) {
        int best = -1;
        double bestValue = 0;
        for (int j = 0; j < mu.size(); j++) {
            double value = rule == OvqAssignment.EUCLIDEAN ? -squaredDistance(k, mu.get(j)) : dot(k, mu.get(j));
            if (best < 0 || value > bestValue) {
                best = j;
                bestValue = value;
            }
        }
        return best;
    }

    private static double[] headProjection(double[] w, double[] x, int row, int e, int head, int d) {
        double[] r = new double[d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < e; j++) r[i] += w[(head * d + i) * e + j] * x[row + j];
        return r;
    }

    static double[] unit(double[] x) {
        double ss = 0;
        for (double a : x) ss += a * a;
        double r = 1 / Math.sqrt(ss + EPS);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * r;
        return y;
    }

    private static double[] scale(double[] x, double f) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * f;
        return y;
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    static double squaredDistance(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
        return s;
    }
}
