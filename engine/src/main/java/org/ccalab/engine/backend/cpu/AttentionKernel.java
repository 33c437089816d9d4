package org.ccalab.engine.backend.cpu;

/**
 * Softmax attention with grouped KV heads on token-major float64 buffers, the core every variant shares.
 * Letters: B batch, T tokens, Hq query heads, Hkv KV heads (query head h reads KV head h / (Hq / Hkv), the
 * contiguous grouping of {@code repeat_kv}), Dk query/key width, Dv value width.
 *
 * <p>Heads are first gathered into contiguous per-head matrices; each task then takes a block of
 * {@value #BLOCK} query (or key) rows of one head and does its work as three small matrix products on the
 * blocked kernel (scores, probabilities x values, and in backward the gradient products), with a strip of
 * BLOCK x T scores as its only scratch. Forward keeps only the log-sum-exp of each query row; backward
 * recomputes probabilities from it (FlashAttention-2 style) in two passes that each own their outputs: dq per
 * query block, then dk and dv per key block, so no element has two writers and results do not depend on the
 * thread count. {@link ReferenceAttention} computes the same functions one dot product at a time.
 */
public final class AttentionKernel {
    /** Query or key rows per task: a 64 x Dk block of Q and the 64 x T score strip stay in L2 for T <= 2k. */
    static final int BLOCK = 64;

    private final Parallel parallel;

    public AttentionKernel(Parallel parallel) {
        this.parallel = parallel;
    }

    /**
     * Sizes of one call; causal masks key s > query t. A sliding window W > 0 (causal only) also masks
     * s <= t - W, so query t sees the W keys t - W < s <= t; 0 is no window.
     */
    public record Dims(int batch, int tokens, int qHeads, int kvHeads, int qkDim, int vDim, double scale,
                       boolean causal, int window) {
        public Dims {
            if (qHeads % kvHeads != 0)
                throw new IllegalArgumentException("qHeads " + qHeads + " not a multiple of kvHeads " + kvHeads);
            if (window < 0 || (window > 0 && !causal))
                throw new IllegalArgumentException("window must be 0 or, for causal attention, positive; got " + window);
        }

        public Dims(int batch, int tokens, int qHeads, int kvHeads, int qkDim, int vDim, double scale, boolean causal) {
            this(batch, tokens, qHeads, kvHeads, qkDim, vDim, scale, causal, 0);
        }

        int group() {
            return qHeads / kvHeads;
        }

        /** The first key query t sees. */
        int firstKey(int t) {
            return window > 0 ? Math.max(0, t - window + 1) : 0;
        }

        /** One past the last key query t sees. */
        int keysFor(int t) {
            return causal ? t + 1 : tokens;
        }

        /** One past the last query that sees key s (the first is s when causal, else 0). */
        int queriesEnd(int s) {
            return window > 0 ? Math.min(tokens, s + window) : tokens;
        }
    }

    /** x [B, T, H, D] -> [B, H, T, D]. */
    private double[] heads(double[] x, int batch, int tokens, int heads, int dim) {
        double[] out = new double[x.length];
        parallel.forRange(batch * heads, 1, (from, to) -> {
            for (int bh = from; bh < to; bh++) {
                int b = bh / heads, h = bh % heads;
                for (int t = 0; t < tokens; t++)
                    System.arraycopy(x, ((b * tokens + t) * heads + h) * dim, out, (bh * tokens + t) * dim, dim);
            }
        });
        return out;
    }

    /** x [B, T, H, D] -> [B, H, D, T]: the right-hand operand of a product against all T rows. */
    private double[] headsTransposed(double[] x, int batch, int tokens, int heads, int dim) {
        double[] out = new double[x.length];
        parallel.forRange(batch * heads, 1, (from, to) -> {
            for (int bh = from; bh < to; bh++) {
                int b = bh / heads, h = bh % heads, base = bh * dim * tokens;
                for (int t = 0; t < tokens; t++) {
                    int src = ((b * tokens + t) * heads + h) * dim;
                    for (int c = 0; c < dim; c++) out[base + c * tokens + t] = x[src + c];
                }
            }
        });
        return out;
    }

    private int blocks(int tokens) {
        return (tokens + BLOCK - 1) / BLOCK;
    }

    /**
     * o [B, T, Hq, Dv] and lse [B, Hq, T] from q [B, T, Hq, Dk], k [B, T, Hkv, Dk], v [B, T, Hkv, Dv].
     */
    public void forward(double[] o, double[] lse, double[] q, double[] k, double[] v, Dims d) {
        int tokens = d.tokens, dk = d.qkDim, dv = d.vDim, blocks = blocks(tokens);
        double[] qh = heads(q, d.batch, tokens, d.qHeads, dk);              // [B, Hq, T, Dk]
        double[] kt = headsTransposed(k, d.batch, tokens, d.kvHeads, dk);  // [B, Hkv, Dk, T]
        double[] vh = heads(v, d.batch, tokens, d.kvHeads, dv);             // [B, Hkv, T, Dv]
        parallel.forRange(d.batch * d.qHeads * blocks, 1, (from, to) -> {
            double[] s = new double[BLOCK * tokens]; // [rows, keys] scores, then probabilities
            double[] ob = new double[BLOCK * dv];    // [rows, Dv]
            for (int task = from; task < to; task++) {
                int blk = task % blocks, bh = task / blocks, b = bh / d.qHeads, h = bh % d.qHeads;
                int bkv = b * d.kvHeads + h / d.group();
                // Key columns [lo, keys): the union of the block's windows (all earlier keys without one).
                int t0 = blk * BLOCK, rows = Math.min(BLOCK, tokens - t0), keys = d.causal ? t0 + rows : tokens;
                int lo = d.firstKey(t0), width = keys - lo;
                Matmul.serialNN(s, 0, width, qh, (bh * tokens + t0) * dk, dk, kt, bkv * dk * tokens + lo, tokens, rows, dk, width, false);
                for (int r = 0; r < rows; r++) {
                    int t = t0 + r, first = d.firstKey(t) - lo, n = d.keysFor(t) - lo, row = r * width;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int c = first; c < n; c++) max = Math.max(max, s[row + c] * d.scale);
                    double sum = 0;
                    for (int c = first; c < n; c++) sum += s[row + c] = Math.exp(s[row + c] * d.scale - max);
                    for (int c = first; c < n; c++) s[row + c] /= sum;
                    java.util.Arrays.fill(s, row, row + first, 0.0);
                    java.util.Arrays.fill(s, row + n, row + width, 0.0);
                    lse[bh * tokens + t] = max + Math.log(sum);
                }
                Matmul.serialNN(ob, 0, dv, s, 0, width, vh, (bkv * tokens + lo) * dv, dv, rows, width, dv, false);
                for (int r = 0; r < rows; r++)
                    System.arraycopy(ob, r * dv, o, ((b * tokens + t0 + r) * d.qHeads + h) * dv, dv);
            }
        });
    }

    /**
     * Adds dq [B, T, Hq, Dk], dk [B, T, Hkv, Dk], dv [B, T, Hkv, Dv] from dO [B, T, Hq, Dv], given the
     * forward's inputs, output o and lse.
     */
    public void backward(double[] dq, double[] dk, double[] dv, double[] dO, double[] q, double[] k, double[] v,
                         double[] o, double[] lse, Dims d) {
        int tokens = d.tokens, kd = d.qkDim, vd = d.vDim, blocks = blocks(tokens), g = d.group();
        // delta [B, Hq, T] = rowsum(dO * o): the softmax-backward correction of each query row.
        double[] delta = new double[d.batch * d.qHeads * tokens];
        parallel.forRange(d.batch * tokens, 64, (from, to) -> {
            for (int bt = from; bt < to; bt++)
                for (int h = 0; h < d.qHeads; h++) {
                    int oi = (bt * d.qHeads + h) * vd;
                    double s = 0;
                    for (int c = 0; c < vd; c++) s += dO[oi + c] * o[oi + c];
                    delta[((bt / tokens) * d.qHeads + h) * tokens + bt % tokens] = s;
                }
        });
        double[] qh = heads(q, d.batch, tokens, d.qHeads, kd);               // [B, Hq, T, Dk]
        double[] qt = headsTransposed(q, d.batch, tokens, d.qHeads, kd);     // [B, Hq, Dk, T]
        double[] kh = heads(k, d.batch, tokens, d.kvHeads, kd);              // [B, Hkv, T, Dk]
        double[] kt = headsTransposed(k, d.batch, tokens, d.kvHeads, kd);    // [B, Hkv, Dk, T]
        double[] vh = heads(v, d.batch, tokens, d.kvHeads, vd);              // [B, Hkv, T, Dv]
        double[] vt = headsTransposed(v, d.batch, tokens, d.kvHeads, vd);    // [B, Hkv, Dv, T]
        double[] doh = heads(dO, d.batch, tokens, d.qHeads, vd);             // [B, Hq, T, Dv]
        double[] dot = headsTransposed(dO, d.batch, tokens, d.qHeads, vd);   // [B, Hq, Dv, T]

        // Pass 1, per query block: dS = P (dP - delta) scale, dQ = dS K.
        parallel.forRange(d.batch * d.qHeads * blocks, 1, (from, to) -> {
            double[] p = new double[BLOCK * tokens], dp = new double[BLOCK * tokens], dqb = new double[BLOCK * kd];
            for (int task = from; task < to; task++) {
                int blk = task % blocks, bh = task / blocks, b = bh / d.qHeads, h = bh % d.qHeads;
                int bkv = b * d.kvHeads + h / g;
                int t0 = blk * BLOCK, rows = Math.min(BLOCK, tokens - t0), keys = d.causal ? t0 + rows : tokens;
                int lo = d.firstKey(t0), width = keys - lo;
                Matmul.serialNN(p, 0, width, qh, (bh * tokens + t0) * kd, kd, kt, bkv * kd * tokens + lo, tokens, rows, kd, width, false);
                Matmul.serialNN(dp, 0, width, doh, (bh * tokens + t0) * vd, vd, vt, bkv * vd * tokens + lo, tokens, rows, vd, width, false);
                for (int r = 0; r < rows; r++) {
                    int t = t0 + r, first = d.firstKey(t) - lo, n = d.keysFor(t) - lo, row = r * width;
                    double l = lse[bh * tokens + t], dl = delta[bh * tokens + t];
                    for (int c = first; c < n; c++) {
                        double pr = Math.exp(p[row + c] * d.scale - l);
                        p[row + c] = pr * (dp[row + c] - dl) * d.scale;
                    }
                    java.util.Arrays.fill(p, row, row + first, 0.0);
                    java.util.Arrays.fill(p, row + n, row + width, 0.0);
                }
                Matmul.serialNN(dqb, 0, kd, p, 0, width, kh, (bkv * tokens + lo) * kd, kd, rows, width, kd, false);
                for (int r = 0; r < rows; r++) {
                    int qi = ((b * tokens + t0 + r) * d.qHeads + h) * kd;
                    for (int c = 0; c < kd; c++) dq[qi + c] += dqb[r * kd + c];
                }
            }
        });

        // Pass 2, per key block of one KV head, summed over its query heads: dV = P^T dO, dK = dS^T Q.
        parallel.forRange(d.batch * d.kvHeads * blocks, 1, (from, to) -> {
            double[] pt = new double[BLOCK * tokens], dpt = new double[BLOCK * tokens];
            double[] dkb = new double[BLOCK * kd], dvb = new double[BLOCK * vd];
            for (int task = from; task < to; task++) {
                int blk = task % blocks, bkv = task / blocks, b = bkv / d.kvHeads, kvh = bkv % d.kvHeads;
                // Queries [tStart, tStart + nq): those whose window holds a key of the block.
                int s0 = blk * BLOCK, rows = Math.min(BLOCK, tokens - s0);
                int tStart = d.causal ? s0 : 0, nq = d.queriesEnd(s0 + rows - 1) - tStart;
                java.util.Arrays.fill(dkb, 0.0);
                java.util.Arrays.fill(dvb, 0.0);
                for (int h = kvh * g; h < (kvh + 1) * g; h++) {
                    int bh = b * d.qHeads + h;
                    Matmul.serialNN(pt, 0, nq, kh, (bkv * tokens + s0) * kd, kd, qt, bh * kd * tokens + tStart, tokens, rows, kd, nq, false);
                    Matmul.serialNN(dpt, 0, nq, vh, (bkv * tokens + s0) * vd, vd, dot, bh * vd * tokens + tStart, tokens, rows, vd, nq, false);
                    for (int r = 0; r < rows; r++) {
                        int s = s0 + r, row = r * nq;
                        for (int c = 0; c < nq; c++) {
                            int t = tStart + c;
                            if (d.causal && t < s || t >= d.queriesEnd(s)) {
                                pt[row + c] = 0;
                                dpt[row + c] = 0;
                                continue;
                            }
                            double pr = Math.exp(pt[row + c] * d.scale - lse[bh * tokens + t]);
                            pt[row + c] = pr;
                            dpt[row + c] = pr * (dpt[row + c] - delta[bh * tokens + t]) * d.scale;
                        }
                    }
                    Matmul.serialNN(dvb, 0, vd, pt, 0, nq, doh, (bh * tokens + tStart) * vd, vd, rows, nq, vd, true);
                    Matmul.serialNN(dkb, 0, kd, dpt, 0, nq, qh, (bh * tokens + tStart) * kd, kd, rows, nq, kd, true);
                }
                for (int r = 0; r < rows; r++) {
                    int ki = ((b * tokens + s0 + r) * d.kvHeads + kvh) * kd, vi = ((b * tokens + s0 + r) * d.kvHeads + kvh) * vd;
                    for (int c = 0; c < kd; c++) dk[ki + c] += dkb[r * kd + c];
                    for (int c = 0; c < vd; c++) dv[vi + c] += dvb[r * vd + c];
                }
            }
        });
    }

    /**
     * T new queries per sequence against a cache that already holds them (chunked prefill): query t of
     * q [B, T, Hq, Dk] sits at position len - T + t and sees cache rows 0 .. len - T + t; o [B, T, Hq, Dv].
     * One query per sequence goes to {@link #decode}; a longer chunk runs like {@link #forward} on the blocked
     * kernel: the cached keys of each KV head are transposed once into [Dk, len], then each task takes a
     * block of {@value #BLOCK} query rows of one head and does two small matrix products, the second reading
     * the values straight from the cache layout (ldb = Hkv Dv).
     */
    public void decodeChunk(double[] o, double[] q, int tokens, double[] kCache, double[] vCache, int capacity, int len,
                            int batch, int qHeads, int kvHeads, int qkDim, int vDim, double scale) {
        decodeChunk(o, q, tokens, kCache, vCache, capacity, len, batch, qHeads, kvHeads, qkDim, vDim, scale, 0);
    }

    /**
     * {@link #decodeChunk} with a sliding window W > 0 (0: none): query t at position len - T + t sees only
     * cache rows len - T + t - W < s <= len - T + t.
     */
    public void decodeChunk(double[] o, double[] q, int tokens, double[] kCache, double[] vCache, int capacity, int len,
                            int batch, int qHeads, int kvHeads, int qkDim, int vDim, double scale, int window) {
        if (window < 0) throw new IllegalArgumentException("window must be >= 0, got " + window);
        if (tokens == 1 && (window == 0 || len <= window)) {
            decode(o, q, kCache, vCache, capacity, len, batch, qHeads, kvHeads, qkDim, vDim, scale);
            return;
        }
        int group = qHeads / kvHeads, past = len - tokens, blocks = blocks(tokens);
        double[] kt = new double[batch * kvHeads * qkDim * len]; // [B, Hkv, Dk, len]
        parallel.forRange(batch * kvHeads, 1, (from, to) -> {
            for (int bkv = from; bkv < to; bkv++) {
                int b = bkv / kvHeads, kvh = bkv % kvHeads, base = bkv * qkDim * len;
                for (int s = 0; s < len; s++) {
                    int src = ((b * capacity + s) * kvHeads + kvh) * qkDim;
                    for (int c = 0; c < qkDim; c++) kt[base + c * len + s] = kCache[src + c];
                }
            }
        });
        parallel.forRange(batch * qHeads * blocks, 1, (from, to) -> {
            double[] sc = new double[Math.min(BLOCK, tokens) * len]; // [rows, keys] scores, then probabilities
            for (int task = from; task < to; task++) {
                int blk = task % blocks, bh = task / blocks, b = bh / qHeads, h = bh % qHeads;
                int bkv = b * kvHeads + h / group;
                int t0 = blk * BLOCK, rows = Math.min(BLOCK, tokens - t0), keys = past + t0 + rows;
                int lo = window > 0 ? Math.max(0, past + t0 - window + 1) : 0, width = keys - lo;
                Matmul.serialNN(sc, 0, width, q, ((b * tokens + t0) * qHeads + h) * qkDim, qHeads * qkDim,
                        kt, bkv * qkDim * len + lo, len, rows, qkDim, width, false);
                for (int r = 0; r < rows; r++) {
                    int pos = past + t0 + r, n = pos + 1 - lo, row = r * width;
                    int first = window > 0 ? Math.max(0, pos - window + 1) - lo : 0;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int c = first; c < n; c++) max = Math.max(max, sc[row + c] * scale);
                    double sum = 0;
                    for (int c = first; c < n; c++) sum += sc[row + c] = Math.exp(sc[row + c] * scale - max);
                    for (int c = first; c < n; c++) sc[row + c] /= sum;
                    java.util.Arrays.fill(sc, row, row + first, 0.0);
                    java.util.Arrays.fill(sc, row + n, row + width, 0.0);
                }
                Matmul.serialNN(o, ((b * tokens + t0) * qHeads + h) * vDim, qHeads * vDim, sc, 0, width,
                        vCache, ((b * capacity + lo) * kvHeads + h / group) * vDim, kvHeads * vDim, rows, width, vDim, false);
            }
        });
    }

    /** Keys per decode task: a split's G x SPLIT score strip stays in L1/L2, and long contexts still spread over cores. */
    static final int DECODE_SPLIT = 512;

    /**
     * One new query per sequence against a cache: o [B, Hq, Dv] from q [B, Hq, Dk] and the first {@code len}
     * rows of kCache [B, capacity, Hkv, Dk] and vCache [B, capacity, Hkv, Dv]. Memory-bound, so the cache is
     * read once: a task takes one KV head and a split of {@value #DECODE_SPLIT} keys and serves all G query
     * heads of the group from each key row it loads, four keys per pass (four independent dot products, the
     * loop over keys being the one that pipelines); it keeps an unnormalised partial softmax (max, sum,
     * weighted values) that a last pass merges across splits (split-K, as flash-decoding does). The splits
     * depend on {@code len} only, so results do not depend on the thread count.
     */
    public void decode(double[] o, double[] q, double[] kCache, double[] vCache, int capacity, int len, int batch,
                       int qHeads, int kvHeads, int qkDim, int vDim, double scale) {
        int group = qHeads / kvHeads, splits = (len + DECODE_SPLIT - 1) / DECODE_SPLIT, tasks = batch * kvHeads * splits;
        double[] pMax = new double[tasks * group];        // [B, Hkv, splits, G]
        double[] pSum = new double[tasks * group];        // [B, Hkv, splits, G]
        double[] pOut = new double[tasks * group * vDim]; // [B, Hkv, splits, G, Dv] sum of exp(s - max) v
        long perTask = (long) Math.min(len, DECODE_SPLIT) * group * (qkDim + vDim);
        parallel.forRange(tasks, (int) Math.max(1, (1 << 15) / Math.max(1, perTask)), (from, to) -> {
            double[] p = new double[group * Math.min(len, DECODE_SPLIT)]; // [G, keys of the split]
            for (int task = from; task < to; task++) {
                int split = task % splits, bkv = task / splits, b = bkv / kvHeads, kvh = bkv % kvHeads;
                int s0 = split * DECODE_SPLIT, n = Math.min(len, s0 + DECODE_SPLIT) - s0;
                int kRow = kvHeads * qkDim, qBase = (b * qHeads + kvh * group) * qkDim;
                int k0 = ((b * capacity + s0) * kvHeads + kvh) * qkDim;
                int s = 0;
                for (; s + 4 <= n; s += 4) {
                    int ka = k0 + s * kRow, kb = ka + kRow, kc = kb + kRow, kd = kc + kRow;
                    for (int g = 0; g < group; g++) {
                        int qi = qBase + g * qkDim;
                        double d0 = 0, d1 = 0, d2 = 0, d3 = 0;
                        for (int c = 0; c < qkDim; c++) {
                            double qc = q[qi + c];
                            d0 += qc * kCache[ka + c];
                            d1 += qc * kCache[kb + c];
                            d2 += qc * kCache[kc + c];
                            d3 += qc * kCache[kd + c];
                        }
                        int pi = g * n + s;
                        p[pi] = d0 * scale;
                        p[pi + 1] = d1 * scale;
                        p[pi + 2] = d2 * scale;
                        p[pi + 3] = d3 * scale;
                    }
                }
                for (; s < n; s++) {
                    int ka = k0 + s * kRow;
                    for (int g = 0; g < group; g++) {
                        int qi = qBase + g * qkDim;
                        double d = 0;
                        for (int c = 0; c < qkDim; c++) d += q[qi + c] * kCache[ka + c];
                        p[g * n + s] = d * scale;
                    }
                }
                int part = task * group;
                for (int g = 0; g < group; g++) {
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int i = g * n; i < (g + 1) * n; i++) max = Math.max(max, p[i]);
                    for (int i = g * n; i < (g + 1) * n; i++) sum += p[i] = Math.exp(p[i] - max);
                    pMax[part + g] = max;
                    pSum[part + g] = sum;
                }
                int vRow = kvHeads * vDim, v0 = ((b * capacity + s0) * kvHeads + kvh) * vDim;
                for (s = 0; s < n; s++) {
                    int vi = v0 + s * vRow;
                    for (int g = 0; g < group; g++) {
                        double w = p[g * n + s];
                        int oi = (part + g) * vDim;
                        for (int c = 0; c < vDim; c++) pOut[oi + c] += w * vCache[vi + c];
                    }
                }
            }
        });
        // Merge the splits of each query head: o = sum_i e^(m_i - M) O_i / sum_i e^(m_i - M) l_i.
        for (int bh = 0; bh < batch * qHeads; bh++) {
            int b = bh / qHeads, h = bh % qHeads, g = h % group, first = (b * kvHeads + h / group) * splits;
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < splits; i++) max = Math.max(max, pMax[(first + i) * group + g]);
            double sum = 0;
            int oi = bh * vDim;
            java.util.Arrays.fill(o, oi, oi + vDim, 0.0);
            for (int i = 0; i < splits; i++) {
                int part = (first + i) * group + g;
                double f = Math.exp(pMax[part] - max);
                sum += f * pSum[part];
                for (int c = 0; c < vDim; c++) o[oi + c] += f * pOut[part * vDim + c];
            }
            for (int c = 0; c < vDim; c++) o[oi + c] /= sum;
        }
    }
}
