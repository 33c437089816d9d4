package org.ccalab.engine.attention.ovq;

import java.util.Arrays;
import java.util.List;
import org.ccalab.common.variant.OvqAssignment;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.variant.OvqUpdate;

/**
 * One head of one sequence (ovq.md sections 4 and 5): the online dictionary (key centroids mu, value rows,
 * counts c, n active rows) and the open chunk of raw normalised keys and values. A token is appended, reads
 * the dictionary and the open chunk (itself included), and a full chunk is folded into the dictionary. Prefill
 * and decode both run {@link #step}, so the state and outputs do not depend on how tokens are grouped.
 *
 * <p>The value rows hold U_j = sum of assigned values (NEWTON) or the value mean nu_j (CONSTANT, whose update is
 * a mean update and would otherwise need U / c); the read's numerator term is U_j = c_j nu_j either way.
 * Everything is float64 (the spec's kernels keep the state in fp32; this engine's reference is float64).
 */
final class OvqHead {
    /** Added to squared norms before the inverse square root, as CCA's L2 norm (conv.normEps default). */
    static final double NORM_EPS = 1e-12;

    private final OvqSpec spec;
    private final int d, chunk, nMax;
    private final boolean newton, euclidean, stateOnly, renormalize;
    private final double eta;

    private double[] mu;     // [capacity, d] key centroids
    private double[] val;    // [capacity, d] U_j (NEWTON) or nu_j (CONSTANT)
    private double[] count;  // [capacity] c_j
    private double[] keys;   // [capacity, d] what the read uses: mu, or mu_j / |mu_j| when renormalising
    private double[] keysT;  // [d, n] the read keys transposed, so the score loop runs along centroids
    private boolean keysStale = true, keysTStale = true;
    private int n, folded;
    private final double[] bufK, bufV; // [L, d] the open chunk
    private int buffered;
    private double[] score = new double[0]; // [n + L] scratch of the read: dot products q . key

    OvqHead(OvqSpec spec, int headDim) {
        this.spec = spec;
        this.d = headDim;
        this.chunk = spec.chunkLength();
        this.nMax = spec.dictionarySize();
        this.newton = spec.update() == OvqUpdate.NEWTON;
        this.euclidean = spec.assignment() == OvqAssignment.EUCLIDEAN;
        this.stateOnly = spec.stateOnly();
        this.renormalize = spec.renormalizeCentroids();
        this.eta = spec.constantRate();
        int cap = Math.min(nMax, 16);
        this.mu = new double[cap * d];
        this.val = new double[cap * d];
        this.count = new double[cap];
        this.bufK = new double[chunk * d];
        this.bufV = new double[chunk * d];
    }

    private OvqHead(OvqHead o) {
        this.spec = o.spec;
        this.d = o.d;
        this.chunk = o.chunk;
        this.nMax = o.nMax;
        this.newton = o.newton;
        this.euclidean = o.euclidean;
        this.stateOnly = o.stateOnly;
        this.renormalize = o.renormalize;
        this.eta = o.eta;
        this.mu = o.mu.clone();
        this.val = o.val.clone();
        this.count = o.count.clone();
        this.n = o.n;
        this.folded = o.folded;
        this.bufK = o.bufK.clone();
        this.bufV = o.bufV.clone();
        this.buffered = o.buffered;
    }

    /** A deep copy (backward rewinds a copy so the saved pass can be differentiated again). */
    OvqHead copy() {
        return new OvqHead(this);
    }

    int size() {
        return n;
    }

    int buffered() {
        return buffered;
    }

    int foldedChunks() {
        return folded;
    }

    double[] mu() {
        return mu;
    }

    double[] values() {
        return val;
    }

    double[] counts() {
        return count;
    }

    /**
     * State bytes as the cost model counts them: n dictionary rows of (2d + 1) elements at fp32 or wider (the
     * spec keeps mu, U, c in fp32 whatever the storage dtype; this engine holds them in float64, so at 8 bytes
     * per element they count 8) and the open chunk's raw k, v at the element size.
     */
    long bytes(int bytesPerElement) {
        return (long) n * (2L * d + 1) * Math.max(4, bytesPerElement) + (long) buffered * 2L * d * bytesPerElement;
    }

    /**
     * One token: appends k, v (normalised key, raw value) to the open chunk, writes the read of q to out, and
     * folds the chunk when it is full; the fold's record goes to {@code folds} when not null (forward keeps it
     * for backward).
     */
    void step(double[] q, int qOff, double[] k, int kOff, double[] v, int vOff, double beta, double[] out,
              int outOff, List<FoldRecord> folds) {
        System.arraycopy(k, kOff, bufK, buffered * d, d);
        System.arraycopy(v, vOff, bufV, buffered * d, d);
        buffered++;
        read(out, outOff, q, qOff, beta);
        if (buffered == chunk) {
            FoldRecord r = fold();
            if (folds != null) folds.add(r);
        }
    }

    /** The read keys: mu itself, or mu_j (|mu_j|^2 + eps)^(-1/2) when renormalising (rebuilt after a fold). */
    double[] readKeys() {
        if (!renormalize) return mu;
        if (keysStale) keys = renormalized(keys);
        return keys;
    }

    /** Row-major mu_j (|mu_j|^2 + eps)^(-1/2) into {@code into} (reallocated when too small). */
    private double[] renormalized(double[] into) {
        double[] out = into == null || into.length < mu.length ? new double[mu.length] : into;
        for (int j = 0; j < n; j++) {
            int off = j * d;
            double ss = 0;
            for (int i = 0; i < d; i++) ss += mu[off + i] * mu[off + i];
            double r = 1 / Math.sqrt(ss + NORM_EPS);
            for (int i = 0; i < d; i++) out[off + i] = mu[off + i] * r;
        }
        keysStale = false;
        return out;
    }

    private double[] readKeysTransposed() {
        if (keysTStale) {
            double[] rk = readKeys();
            if (keysT == null || keysT.length < n * d) keysT = new double[Math.max(n * d, 2 * (keysT == null ? 0 : keysT.length))];
            for (int j = 0; j < n; j++)
                for (int i = 0; i < d; i++) keysT[i * n + j] = rk[j * d + i];
            keysTStale = false;
        }
        return keysT;
    }

    /**
     * The read of section 4 for a query over the dictionary and the first {@code chunkTokens} keys of
     * {@code ck}/{@code cv} (stride d), all logits shifted by their max:
     * o = (sum_j e^{z_j} U_j + sum_s e^{z_s} v_s) / (sum_j e^{z_j} c_j + sum_s e^{z_s}), z = beta q . key.
     * Leaves q . key in {@link #scores} ([n] centroids, then the chunk keys read, none when state-only) followed
     * by the max, and returns the denominator scaled by e^{-max}, or 0 when nothing is read (state-only with an
     * empty dictionary: the output is 0).
     */
    double readOver(double[] out, int outOff, double[] q, int qOff, double beta, double[] ck, double[] cv,
                    int chunkTokens) {
        int terms = stateOnly ? 0 : chunkTokens;
        if (score.length < n + terms + 1) score = new double[Math.max(n + terms + 1, 2 * score.length)];
        // score_j = q . key_j summed over i in increasing order, as a serial dot product would: the loop runs
        // along centroids so the JIT vectorises it, and decode and prefill share it.
        double[] kt = readKeysTransposed();
        Arrays.fill(score, 0, n, 0.0);
        for (int i = 0; i < d; i++) {
            double qi = q[qOff + i];
            int row = i * n;
            for (int j = 0; j < n; j++) score[j] += qi * kt[row + j];
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) max = Math.max(max, beta * score[j]);
        for (int s = 0; s < terms; s++) {
            double dot = dot(q, qOff, ck, s * d);
            score[n + s] = dot;
            max = Math.max(max, beta * dot);
        }
        score[n + terms] = max;
        Arrays.fill(out, outOff, outOff + d, 0.0);
        if (n + terms == 0) return 0;
        double den = 0;
        for (int j = 0; j < n; j++) {
            double w = Math.exp(beta * score[j] - max), wc = w * count[j];
            den += wc;
            double a = newton ? w : wc;
            int off = j * d;
            for (int i = 0; i < d; i++) out[outOff + i] += a * val[off + i];
        }
        for (int s = 0; s < terms; s++) {
            double w = Math.exp(beta * score[n + s] - max);
            den += w;
            int off = s * d;
            for (int i = 0; i < d; i++) out[outOff + i] += w * cv[off + i];
        }
        double inv = 1 / den;
        for (int i = 0; i < d; i++) out[outOff + i] *= inv;
        return den;
    }

    double[] scores() {
        return score;
    }

    private void read(double[] out, int outOff, double[] q, int qOff, double beta) {
        readOver(out, outOff, q, qOff, beta, bufK, bufV, buffered);
    }

    /**
     * What one fold changed, to differentiate through it and to rewind the state: the rows it wrote (old rows
     * with assigned keys, then the founders) with their values just before the write (a founder's are its
     * founding values k*, v*, 1), the keys assigned per row, and per chunk token the row slot it was assigned
     * to (-1 for founders).
     */
    record FoldRecord(int nBefore,
                      int[] rows,          // [R] ascending
                      int[] founderToken,  // [R] chunk index of the founding token, -1 for an old row
                      int[] assigned,      // [R] m_j: non-founder keys written into the row
                      double[] preMu,      // [R, d]
                      double[] preVal,     // [R, d]
                      double[] preCount,   // [R]
                      int[] slot)          // [L] index into rows, -1 for founders
    {}

    /** Assign, grow, re-assign, write (section 4 steps 1-3) over the full open chunk; empties it. */
    FoldRecord fold() {
        int len = buffered, nOld = n;
        // 1. Assign against the old dictionary; the farthest-point score is the squared distance to it.
        int[] a = new int[len];
        double[] best = new double[len], far = new double[len];
        double[] mm = new double[nOld]; // |mu_j|^2
        double[] muT = new double[d * nOld]; // [d, n] so the k . mu_j loop runs along centroids (vectorised)
        for (int j = 0; j < nOld; j++) {
            mm[j] = dot(mu, j * d, mu, j * d);
            for (int i = 0; i < d; i++) muT[i * nOld + j] = mu[j * d + i];
        }
        double[] dots = new double[nOld];
        for (int s = 0; s < len; s++) {
            double kk = dot(bufK, s * d, bufK, s * d);
            Arrays.fill(dots, 0.0);
            for (int i = 0; i < d; i++) {
                double ki = bufK[s * d + i];
                for (int j = 0; j < nOld; j++) dots[j] += ki * muT[i * nOld + j];
            }
            int arg = -1;
            double top = Double.NEGATIVE_INFINITY, near = Double.POSITIVE_INFINITY;
            for (int j = 0; j < nOld; j++) {
                double dot = dots[j];
                double v = euclidean ? dot - 0.5 * mm[j] : dot;
                if (v > top) {
                    top = v;
                    arg = j;
                }
                near = Math.min(near, kk - 2 * dot + mm[j]);
            }
            a[s] = arg;
            best[s] = top;
            far[s] = near;
        }
        // 2. Grow by the schedule, founders by greedy farthest point (ties to the lowest index).
        int target = spec.dictionaryTarget((long) (folded + 1) * chunk);
        int grow = Math.min(len, Math.max(0, target - n));
        boolean[] founder = new boolean[len];
        int[] founderOfRow = new int[grow];
        ensureCapacity(n + grow);
        for (int f = 0; f < grow; f++) {
            int pick = -1;
            for (int s = 0; s < len; s++)
                if (!founder[s] && (pick < 0 || far[s] > far[pick])) pick = s;
            founder[pick] = true;
            founderOfRow[f] = pick;
            System.arraycopy(bufK, pick * d, mu, n * d, d);
            System.arraycopy(bufV, pick * d, val, n * d, d);
            count[n] = 1;
            n++;
            for (int s = 0; s < len; s++) {
                if (founder[s]) continue;
                double dd = 0;
                for (int i = 0; i < d; i++) {
                    double diff = bufK[s * d + i] - bufK[pick * d + i];
                    dd += diff * diff;
                }
                if (dd < far[s]) far[s] = dd;
            }
        }
        // Re-assign non-founders against the founders; rows above nOld only win strictly, so ties keep the
        // lowest index exactly as one argmax over the enlarged dictionary would.
        for (int j = nOld; j < n; j++) {
            double mmj = dot(mu, j * d, mu, j * d);
            for (int s = 0; s < len; s++) {
                if (founder[s]) continue;
                double dot = dot(bufK, s * d, mu, j * d);
                double v = euclidean ? dot - 0.5 * mmj : dot;
                if (v > best[s]) {
                    best[s] = v;
                    a[s] = j;
                }
            }
        }
        // 3. Write: sums per row in token order, then the Newton (or constant-rate) step on rows with m > 0.
        int[] m = new int[n];
        double[] sk = new double[n * d], sv = new double[n * d];
        for (int s = 0; s < len; s++) {
            if (founder[s]) continue;
            int j = a[s];
            m[j]++;
            for (int i = 0; i < d; i++) {
                sk[j * d + i] += bufK[s * d + i];
                sv[j * d + i] += bufV[s * d + i];
            }
        }
        int rowsTouched = 0;
        for (int j = 0; j < n; j++) if (m[j] > 0 || j >= nOld) rowsTouched++;
        int[] rows = new int[rowsTouched], fTok = new int[rowsTouched], mRow = new int[rowsTouched];
        int[] slotOfRow = new int[n];
        double[] preMu = new double[rowsTouched * d], preVal = new double[rowsTouched * d], preCount = new double[rowsTouched];
        int r = 0;
        for (int j = 0; j < n; j++) {
            if (m[j] == 0 && j < nOld) continue;
            rows[r] = j;
            fTok[r] = j >= nOld ? founderOfRow[j - nOld] : -1;
            mRow[r] = m[j];
            slotOfRow[j] = r;
            System.arraycopy(mu, j * d, preMu, r * d, d);
            System.arraycopy(val, j * d, preVal, r * d, d);
            preCount[r] = count[j];
            r++;
            if (m[j] == 0) continue;
            int off = j * d;
            if (newton) {
                double cNew = count[j] + m[j];
                for (int i = 0; i < d; i++) {
                    mu[off + i] += (sk[off + i] - m[j] * mu[off + i]) / cNew;
                    val[off + i] += sv[off + i];
                }
                count[j] = cNew;
            } else {
                for (int i = 0; i < d; i++) {
                    mu[off + i] += eta * (sk[off + i] / m[j] - mu[off + i]);
                    val[off + i] += eta * (sv[off + i] / m[j] - val[off + i]);
                }
                count[j] += m[j];
            }
        }
        int[] slot = new int[len];
        for (int s = 0; s < len; s++) slot[s] = founder[s] ? -1 : slotOfRow[a[s]];
        folded++;
        buffered = 0;
        keysStale = true;
        keysTStale = true;
        return new FoldRecord(nOld, rows, fTok, mRow, preMu, preVal, preCount, slot);
    }

    /** Undoes {@code r}, the last fold applied: the state becomes the one the fold's chunk read. */
    void rewind(FoldRecord r) {
        for (int i = 0; i < r.rows().length; i++) {
            if (r.founderToken()[i] >= 0) continue;
            int j = r.rows()[i];
            System.arraycopy(r.preMu(), i * d, mu, j * d, d);
            System.arraycopy(r.preVal(), i * d, val, j * d, d);
            count[j] = r.preCount()[i];
        }
        n = r.nBefore();
        folded--;
        keysStale = true;
        keysTStale = true;
    }

    private void ensureCapacity(int rows) {
        int cap = count.length;
        if (rows <= cap) return;
        int bigger = Math.min(nMax, Math.max(rows, 2 * cap));
        mu = Arrays.copyOf(mu, bigger * d);
        val = Arrays.copyOf(val, bigger * d);
        count = Arrays.copyOf(count, bigger);
    }

    private double dot(double[] a, int aOff, double[] b, int bOff) {
        double s = 0;
        for (int i = 0; i < d; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }
}
