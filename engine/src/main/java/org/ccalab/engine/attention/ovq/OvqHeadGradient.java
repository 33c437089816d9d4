package org.ccalab.engine.attention.ovq;

import java.util.List;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.variant.OvqUpdate;

/**
 * Backward of one head of one sequence (ovq.md section 6): assignments, founders and counts are constants.
 * Chunks run last to first; the dictionary is rewound fold by fold from the forward's final state with the
 * fold records, so chunk b's read is differentiated against the exact state it read. Gradients reach q, beta
 * and the chunk's own keys and values through the read, and, when {@code stateGradient}, the earlier keys
 * and values through every fold (chunk-level BPTT): the state gradient dS_b = (fold b)^T dS_{b+1} + read b's
 * part. Keys are the normalised ones; the caller takes them back through the L2 norm.
 */
final class OvqHeadGradient {
    private final int d, chunk;
    private final boolean newton, stateOnly, renormalize, stateGradient;
    private final double eta;

    OvqHeadGradient(OvqSpec spec, int headDim) {
        this.d = headDim;
        this.chunk = spec.chunkLength();
        this.newton = spec.update() == OvqUpdate.NEWTON;
        this.stateOnly = spec.stateOnly();
        this.renormalize = spec.renormalizeCentroids();
        this.stateGradient = spec.stateGradient();
        this.eta = spec.constantRate();
    }

    /**
     * Token t of this head lives at {@code base + t * stride} in qh, kh, v (normalised q, k and raw v, as
     * forward saw them), dOut and the gradients dq, dk, dv, which are added to. {@code head} is a copy of the
     * forward's final state (rewound here), {@code folds} its fold records in order. Returns d loss / d beta.
     */
    double backward(OvqHead head, List<OvqHead.FoldRecord> folds, int tokens, double beta, double[] qh,
                    double[] kh, double[] v, double[] dOut, int base, int stride, double[] dq, double[] dk,
                    double[] dv) {
        int nFinal = head.size();
        double[] dMu = new double[nFinal * d];   // [n, d] d loss / d mu of the state being differentiated
        double[] dVal = new double[nFinal * d];  // [n, d] d loss / d U (NEWTON) or nu (CONSTANT)
        double[] dKeys = renormalize ? new double[nFinal * d] : dMu; // [n, d] d loss / d read key
        double[] ck = new double[chunk * d], cv = new double[chunk * d]; // [L, d] the chunk, contiguous
        double[] o = new double[d];
        double dBeta = 0;
        int chunks = (tokens + chunk - 1) / chunk;
        for (int b = chunks - 1; b >= 0; b--) {
            int start = b * chunk, len = Math.min(chunk, tokens - start);
            if (b < folds.size()) {
                OvqHead.FoldRecord r = folds.get(b);
                if (stateGradient) foldBackward(r, dMu, dVal, dk, dv, base + start * stride, stride);
                head.rewind(r);
            }
            for (int s = 0; s < len; s++) {
                System.arraycopy(kh, base + (start + s) * stride, ck, s * d, d);
                System.arraycopy(v, base + (start + s) * stride, cv, s * d, d);
            }
            int n = head.size();
            if (renormalize && stateGradient) java.util.Arrays.fill(dKeys, 0, n * d, 0.0);
            double[] rk = head.readKeys(), val = head.values(), cnt = head.counts();
            // [d, n] values transposed once per chunk, so g . val_j runs along centroids (vectorised).
            double[] valT = new double[d * n], gv = new double[n];
            for (int j = 0; j < n; j++)
                for (int i = 0; i < d; i++) valT[i * n + j] = val[j * d + i];
            for (int t = 0; t < len; t++) {
                int qOff = base + (start + t) * stride;
                double den = head.readOver(o, 0, qh, qOff, beta, ck, cv, t + 1);
                if (den == 0) continue;
                double[] sc = head.scores();
                int terms = stateOnly ? 0 : t + 1;
                double max = sc[n + terms];
                double go = 0;
                for (int i = 0; i < d; i++) go += dOut[qOff + i] * o[i];
                java.util.Arrays.fill(gv, 0.0);
                for (int i = 0; i < d; i++) {
                    double gi = dOut[qOff + i];
                    for (int j = 0; j < n; j++) gv[j] += gi * valT[i * n + j];
                }
                for (int j = 0; j < n; j++) {
                    double w = Math.exp(beta * sc[j] - max), wc = w * cnt[j];
                    double p = wc / den, a = (newton ? w : wc) / den;
                    int off = j * d;
                    double dz = a * gv[j] - p * go;
                    dBeta += dz * sc[j];
                    for (int i = 0; i < d; i++) dq[qOff + i] += beta * dz * rk[off + i];
                    if (stateGradient)
                        for (int i = 0; i < d; i++) {
                            dVal[off + i] += a * dOut[qOff + i];
                            dKeys[off + i] += beta * dz * qh[qOff + i];
                        }
                }
                for (int s = 0; s < terms; s++) {
                    double p = Math.exp(beta * sc[n + s] - max) / den;
                    int kOff = base + (start + s) * stride;
                    double gs = 0;
                    for (int i = 0; i < d; i++) gs += dOut[qOff + i] * cv[s * d + i];
                    double dz = p * (gs - go);
                    dBeta += dz * sc[n + s];
                    for (int i = 0; i < d; i++) {
                        dv[kOff + i] += p * dOut[qOff + i];
                        dq[qOff + i] += beta * dz * ck[s * d + i];
                        dk[kOff + i] += beta * dz * qh[qOff + i];
                    }
                }
            }
            if (renormalize && stateGradient) renormalizeBackward(head, dKeys, dMu, n);
        }
        return dBeta;
    }

    /** key_j = mu_j r_j, r_j = (|mu_j|^2 + eps)^(-1/2): dmu_j += r_j (dkey_j - mu_j r_j^2 (mu_j . dkey_j)). */
    private void renormalizeBackward(OvqHead head, double[] dKeys, double[] dMu, int n) {
        double[] mu = head.mu();
        for (int j = 0; j < n; j++) {
            int off = j * d;
            double ss = 0, dot = 0;
            for (int i = 0; i < d; i++) {
                ss += mu[off + i] * mu[off + i];
                dot += mu[off + i] * dKeys[off + i];
            }
            double r = 1 / Math.sqrt(ss + OvqHead.NORM_EPS);
            for (int i = 0; i < d; i++) dMu[off + i] += r * (dKeys[off + i] - mu[off + i] * r * r * dot);
        }
    }

    /**
     * Through the write of one fold, dS_{b+1} -> dS_b in place, plus the chunk's keys and values. NEWTON:
     * mu' = mu c/c' + S^k/c', U' = U + S^v; CONSTANT: mu' = (1 - eta) mu + eta S^k/m, nu likewise. A founder's
     * pre-write row is (k*, v*, 1): its gradient goes to the founding token and the row did not exist before.
     */
    private void foldBackward(OvqHead.FoldRecord r, double[] dMu, double[] dVal, double[] dk, double[] dv, int chunkBase,
                              int stride) {
        int[] slot = r.slot();
        for (int s = 0; s < slot.length; s++) {
            int sl = slot[s];
            if (sl < 0) continue;
            int off = r.rows()[sl] * d, m = r.assigned()[sl], kOff = chunkBase + s * stride;
            double fk = newton ? 1 / (r.preCount()[sl] + m) : eta / m, fv = newton ? 1 : eta / m;
            for (int i = 0; i < d; i++) {
                dk[kOff + i] += fk * dMu[off + i];
                dv[kOff + i] += fv * dVal[off + i];
            }
        }
        for (int sl = 0; sl < r.rows().length; sl++) {
            int off = r.rows()[sl] * d, m = r.assigned()[sl];
            if (m > 0) {
                double c = r.preCount()[sl];
                double gm = newton ? c / (c + m) : 1 - eta, gv = newton ? 1 : 1 - eta;
                for (int i = 0; i < d; i++) {
                    dMu[off + i] *= gm;
                    dVal[off + i] *= gv;
                }
            }
            int tok = r.founderToken()[sl];
            if (tok < 0) continue;
            int kOff = chunkBase + tok * stride;
            for (int i = 0; i < d; i++) {
                dk[kOff + i] += dMu[off + i];
                dv[kOff + i] += dVal[off + i];
                dMu[off + i] = 0;
                dVal[off + i] = 0;
            }
        }
    }
}
