package org.ccalab.engine.backend.cpu;

/**
 * The plain-loop reference of {@link AttentionKernel}: the same functions computed one dot product at a time,
 * kept readable as the algorithmic definition the blocked kernel is tested against.
 *
 * <p>Softmax attention with grouped KV heads on token-major float64 buffers, the core every variant shares.
 * Letters: B batch, T tokens, Hq query heads, Hkv KV heads (query head h reads KV head h / (Hq / Hkv), the
 * contiguous grouping of {@code repeat_kv}), Dk query/key width, Dv value width.
 *
 * <p>Forward keeps only the log-sum-exp of each query row; backward recomputes the probabilities from it
 * (FlashAttention-2 style) so memory stays O(T) per head instead of O(T^2). Backward runs in two passes that
 * each own their outputs: dq per query row, then dk and dv per key row, so no two tasks write one element.
 */
public final class ReferenceAttention {
    /** Query (or key) rows per task. */
    private static final int ROWS_PER_TASK = 16;

    private final Parallel parallel;

    public ReferenceAttention(Parallel parallel) {
        this.parallel = parallel;
    }

    /**
     * o [B, T, Hq, Dv] and lse [B, Hq, T] from q [B, T, Hq, Dk], k [B, T, Hkv, Dk], v [B, T, Hkv, Dv].
     */
    public void forward(double[] o, double[] lse, double[] q, double[] k, double[] v, AttentionKernel.Dims d) {
        int blocks = (d.tokens() + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        parallel.forRange(d.batch() * d.qHeads() * blocks, 1, (from, to) -> {
            double[] p = new double[d.tokens()];
            for (int task = from; task < to; task++) {
                int blk = task % blocks, h = (task / blocks) % d.qHeads(), b = task / blocks / d.qHeads();
                int kvh = h / d.group();
                for (int t = blk * ROWS_PER_TASK; t < Math.min(d.tokens(), (blk + 1) * ROWS_PER_TASK); t++) {
                    int qi = ((b * d.tokens() + t) * d.qHeads() + h) * d.qkDim();
                    int first = d.firstKey(t), n = d.keysFor(t);
                    double max = Double.NEGATIVE_INFINITY;
                    for (int s = first; s < n; s++) {
                        int ki = ((b * d.tokens() + s) * d.kvHeads() + kvh) * d.qkDim();
                        double dot = 0;
                        for (int c = 0; c < d.qkDim(); c++) dot += q[qi + c] * k[ki + c];
                        p[s] = dot * d.scale();
                        max = Math.max(max, p[s]);
                    }
                    double sum = 0;
                    for (int s = first; s < n; s++) sum += p[s] = Math.exp(p[s] - max);
                    int oi = ((b * d.tokens() + t) * d.qHeads() + h) * d.vDim();
                    java.util.Arrays.fill(o, oi, oi + d.vDim(), 0.0);
                    for (int s = first; s < n; s++) {
                        double w = p[s] / sum;
                        int vi = ((b * d.tokens() + s) * d.kvHeads() + kvh) * d.vDim();
                        for (int c = 0; c < d.vDim(); c++) o[oi + c] += w * v[vi + c];
                    }
                    lse[(b * d.qHeads() + h) * d.tokens() + t] = max + Math.log(sum);
                }
            }
        });
    }

    /**
     * Adds dq [B, T, Hq, Dk], dk [B, T, Hkv, Dk], dv [B, T, Hkv, Dv] from dO [B, T, Hq, Dv], given the
     * forward's inputs, output o and lse.
     */
    public void backward(double[] dq, double[] dk, double[] dv, double[] dO, double[] q, double[] k, double[] v,
                         double[] o, double[] lse, AttentionKernel.Dims d) {
        // delta [B, Hq, T] = rowsum(dO * o), the softmax-backward correction of each query row.
        double[] delta = new double[d.batch() * d.qHeads() * d.tokens()];
        int blocks = (d.tokens() + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        parallel.forRange(d.batch() * d.qHeads() * blocks, 1, (from, to) -> {
            for (int task = from; task < to; task++) {
                int blk = task % blocks, h = (task / blocks) % d.qHeads(), b = task / blocks / d.qHeads();
                int kvh = h / d.group();
                for (int t = blk * ROWS_PER_TASK; t < Math.min(d.tokens(), (blk + 1) * ROWS_PER_TASK); t++) {
                    int oi = ((b * d.tokens() + t) * d.qHeads() + h) * d.vDim();
                    double dl = 0;
                    for (int c = 0; c < d.vDim(); c++) dl += dO[oi + c] * o[oi + c];
                    int row = (b * d.qHeads() + h) * d.tokens() + t;
                    delta[row] = dl;
                    int qi = ((b * d.tokens() + t) * d.qHeads() + h) * d.qkDim();
                    for (int s = d.firstKey(t), n = d.keysFor(t); s < n; s++) {
                        int ki = ((b * d.tokens() + s) * d.kvHeads() + kvh) * d.qkDim();
                        int vi = ((b * d.tokens() + s) * d.kvHeads() + kvh) * d.vDim();
                        double dot = 0, dp = 0;
                        for (int c = 0; c < d.qkDim(); c++) dot += q[qi + c] * k[ki + c];
                        for (int c = 0; c < d.vDim(); c++) dp += dO[oi + c] * v[vi + c];
                        double ds = Math.exp(dot * d.scale() - lse[row]) * (dp - dl) * d.scale();
                        for (int c = 0; c < d.qkDim(); c++) dq[qi + c] += ds * k[ki + c];
                    }
                }
            }
        });
        parallel.forRange(d.batch() * d.kvHeads() * blocks, 1, (from, to) -> {
            for (int task = from; task < to; task++) {
                int blk = task % blocks, kvh = (task / blocks) % d.kvHeads(), b = task / blocks / d.kvHeads();
                for (int s = blk * ROWS_PER_TASK; s < Math.min(d.tokens(), (blk + 1) * ROWS_PER_TASK); s++) {
                    int ki = ((b * d.tokens() + s) * d.kvHeads() + kvh) * d.qkDim();
                    int vi = ((b * d.tokens() + s) * d.kvHeads() + kvh) * d.vDim();
                    for (int h = kvh * d.group(); h < (kvh + 1) * d.group(); h++) {
                        for (int t = d.causal() ? s : 0, end = d.queriesEnd(s); t < end; t++) {
                            int qi = ((b * d.tokens() + t) * d.qHeads() + h) * d.qkDim();
                            int oi = ((b * d.tokens() + t) * d.qHeads() + h) * d.vDim();
                            int row = (b * d.qHeads() + h) * d.tokens() + t;
                            double dot = 0, dp = 0;
                            for (int c = 0; c < d.qkDim(); c++) dot += q[qi + c] * k[ki + c];
                            for (int c = 0; c < d.vDim(); c++) dp += dO[oi + c] * v[vi + c];
                            double p = Math.exp(dot * d.scale() - lse[row]);
                            double ds = p * (dp - delta[row]) * d.scale();
                            for (int c = 0; c < d.vDim(); c++) dv[vi + c] += p * dO[oi + c];
                            for (int c = 0; c < d.qkDim(); c++) dk[ki + c] += ds * q[qi + c];
                        }
                    }
                }
            }
        });
    }
}
