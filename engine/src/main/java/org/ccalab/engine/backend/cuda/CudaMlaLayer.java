package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.MlaConfig;

/**
 * The MLA layer (mla.md sections 2-4) on the GPU: bf16 weights under the Hugging Face DeepSeek-V2 names and layouts
 * ({@link org.ccalab.engine.attention.mla.MlaAttention}), a latent cache of one row [c_t ; k^R_t] per token, prefill
 * in "MHA mode", one-token absorbed decode, and for training a forward that keeps what the backward needs and the
 * backward that produces dx and ADDS every parameter's gradient into fp32 buffers (the set MlaAttention.backward
 * produces; checked against it by {@link CudaMlaLayerCheck}). Letters: B batch, T tokens, N = B T, E width, n heads,
 * Dn / Dr / Dv head dims, Dqk = Dn + Dr, Rq / R = q / kv LoRA ranks, cap cache capacity.
 *
 * <p>GEMMs go through the backend's cuBLAS (bf16 in and out, fp32 accumulation; weight gradients fp32); RoPE on the
 * query's rope slice and the query RMSNorm (with Rq), forward and backward, are the training kernels (same rotate-half
 * layout as the CPU's Rope); the latent norm + key RoPE, the K/V expansion, the absorption and un-absorption, and the
 * backward of the expansion (per-head part; the rope key's sum over heads) and of the latent norm are mla_layer.cuh's;
 * the core backward is {@link CudaMla#backward}. Not thread-safe; one stream.
 */
public final class CudaMlaLayer implements AutoCloseable {
    /**
     * The layer's eight parameter tensors (values: bf16 matrices and fp32 norm gains; gradients: all fp32), PyTorch
     * [out, in]: q_proj [n Dqk, E] or, with Rq, q_a_proj [Rq, E], q_a_layernorm [Rq], q_b_proj [n Dqk, Rq] (the others
     * null); kv_a_proj_with_mqa [R + Dr, E], kv_a_layernorm [R], kv_b_proj [n (Dn + Dv), R], o_proj [E, n Dv].
     */
    public record Weights(DeviceBuffer q, DeviceBuffer qa, DeviceBuffer qNorm, DeviceBuffer qb, DeviceBuffer kva,
                          DeviceBuffer kvNorm, DeviceBuffer kvb, DeviceBuffer o) {
        List<DeviceBuffer> all() {
            List<DeviceBuffer> l = new ArrayList<>();
            for (DeviceBuffer b : new DeviceBuffer[] {q, qa, qNorm, qb, kva, kvNorm, kvb, o}) if (b != null) l.add(b);
            return l;
        }
    }

    /** The CPU layer's parameter names in {@link Weights}' order. */
    static final List<String> NAMES = List.of("q_proj.weight", "q_a_proj.weight", "q_a_layernorm.weight", "q_b_proj.weight",
            "kv_a_proj_with_mqa.weight", "kv_a_layernorm.weight", "kv_b_proj.weight", "o_proj.weight");

    private final CudaBackend cuda;
    private final Cublas blas;
    private final CudaMla mla;
    private final CudaTrainingKernels train;
    private final MlaConfig cfg;
    private final int e, n, dn, dr, dv, dqk, rq, r, rowWidth;
    private final double scale;
    private final OwnedBuffers owned;
    private final Weights w;            // values
    private final Weights g;            // fp32 gradients
    private final boolean ownsGradients;
    // the latent cache [B, cap, R + Dr] and how many rows of it are valid
    private final int batch, capacity;
    private final DeviceBuffer cache;
    private int length;
    // saved by forward (training): the activations of its T tokens, and x by reference
    private Activations saved;
    private DeviceBuffer x;

    /**
     * Uploads the parameters (values in the CPU layer's layouts, rounded to bf16 here; norm weights to fp32), zeroed
     * fp32 gradients, and allocates a cache for {@code batch} sequences of up to {@code capacity} tokens.
     */
    public CudaMlaLayer(CudaBackend cuda, MlaConfig cfg, Map<String, double[]> params, int batch, int capacity) {
        this(cuda, cfg, null, null, params, batch, capacity);
    }

    /**
     * A layer on a trainer's device tensors (values and gradients it does not own, {@link Weights}' dtypes); allocates
     * only its cache and, at the first {@link #forward}, the saved activations.
     */
    public CudaMlaLayer(CudaBackend cuda, MlaConfig cfg, Weights values, Weights gradients, int batch, int capacity) {
        this(cuda, cfg, java.util.Objects.requireNonNull(values, "values"), java.util.Objects.requireNonNull(gradients, "gradients"),
                null, batch, capacity);
    }

    private CudaMlaLayer(CudaBackend cuda, MlaConfig cfg, Weights values, Weights gradients, Map<String, double[]> params,
                         int batch, int capacity) {
        String why = CudaMlaKernels.unsupported(cfg);
        if (why != null) throw new InvalidConfigException("variant", why);
        if (batch < 1 || capacity < 1)
            throw new IllegalArgumentException("batch " + batch + " and capacity " + capacity + " must be positive");
        this.cuda = cuda;
        this.blas = cuda.cublas();
        this.owned = new OwnedBuffers(cuda);
        this.mla = new CudaMla(cuda);
        this.train = cuda.trainingKernels();
        this.cfg = cfg;
        this.e = cfg.dModel();
        this.n = cfg.nHeads();
        this.dn = cfg.qkNopeHeadDim();
        this.dr = cfg.qkRopeHeadDim();
        this.dv = cfg.vHeadDim();
        this.dqk = cfg.qkHeadDim();
        this.rq = cfg.qLoraRank();
        this.r = cfg.kvLoraRank();
        this.rowWidth = r + dr;
        this.scale = 1 / Math.sqrt(dqk);
        this.batch = batch;
        this.capacity = capacity;
        try {
            long[] sizes = elements();
            if (params != null) {
                DeviceBuffer[] v = new DeviceBuffer[8], gr = new DeviceBuffer[8];
                for (int i = 0; i < 8; i++) {
                    if (sizes[i] == 0) continue;
                    boolean norm = NAMES.get(i).contains("layernorm");
                    double[] d = param(params, NAMES.get(i), sizes[i]);
                    v[i] = owned.keep(norm ? cuda.uploadFloats(toFloats(d)) : cuda.uploadBf16(Bf16.fromDoubles(d)));
                    gr[i] = owned.zeroed(sizes[i] * 4);
                }
                this.w = weights(v);
                this.g = weights(gr);
                this.ownsGradients = true;
            } else {
                DeviceBuffer[] v = array(values), gr = array(gradients);
                for (int i = 0; i < 8; i++) {
                    boolean norm = NAMES.get(i).contains("layernorm");
                    check(v[i], sizes[i], norm ? 4 : 2, NAMES.get(i));
                    check(gr[i], sizes[i], 4, NAMES.get(i) + " gradient");
                }
                this.w = values;
                this.g = gradients;
                this.ownsGradients = false;
            }
            this.cache = owned.keep(cuda.allocate((long) batch * capacity * rowWidth * 2));
        } catch (RuntimeException ex) {
            close();
            throw ex;
        }
    }

    /**
     * Why the GPU layer cannot run this MLA config (no prefill / backward / decode kernel for its dims, widths not
     * multiples of 8), or null when it can.
     */
    public static String unsupported(MlaConfig cfg) {
        return CudaMlaKernels.unsupported(cfg);
    }

    /** Elements of the eight tensors in {@link #NAMES}' order (0: absent in this config's query path). */
    private long[] elements() {
        boolean qc = cfg.hasQueryCompression();
        return new long[] {qc ? 0 : (long) n * dqk * e, qc ? (long) rq * e : 0, qc ? rq : 0, qc ? (long) n * dqk * rq : 0,
                (long) rowWidth * e, r, (long) n * (dn + dv) * r, (long) e * n * dv};
    }

    private static Weights weights(DeviceBuffer[] b) {
        return new Weights(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
    }

    private static DeviceBuffer[] array(Weights t) {
        return new DeviceBuffer[] {t.q(), t.qa(), t.qNorm(), t.qb(), t.kva(), t.kvNorm(), t.kvb(), t.o()};
    }

    private static void check(DeviceBuffer b, long elements, int bytes, String name) {
        if (elements == 0) {
            if (b != null) throw new IllegalArgumentException(name + " given, but this config's query path has no such tensor");
            return;
        }
        if (b == null) throw new IllegalArgumentException(name + " missing");
        CudaMla.need(b, elements * bytes, name);
    }

    public MlaConfig config() {
        return cfg;
    }

    /** Valid cache rows (the next decode token's position). */
    public int length() {
        return length;
    }

    /** The latent cache [B, cap, R + Dr] bf16, rows [c_t ; k^R_t]. */
    public DeviceBuffer cache() {
        return cache;
    }

    /** Declares the first {@code rows} cache rows valid (a benchmark fills them with random latents). */
    public void assumeCached(int rows) {
        if (rows < 0 || rows > capacity) throw new IllegalArgumentException("rows " + rows + " outside [0, " + capacity + "]");
        length = rows;
    }

    /**
     * y [B, T, E] from x [B, T, E] (bf16), causal, starting an empty cache: afterwards the cache holds these T
     * tokens and decode continues at position T. Keeps nothing for a backward.
     */
    public void prefill(DeviceBuffer y, DeviceBuffer x, int tokens) {
        checkTokens(tokens);
        try (Activations act = new Activations(batch * tokens, false)) {
            run(y, x, tokens, act);
        }
    }

    /**
     * The training forward: {@link #prefill} (the cache then holds these tokens) that also keeps x (by reference: it
     * must hold the same values until {@link #backward}) and the activations the backward reads.
     */
    public void forward(DeviceBuffer y, DeviceBuffer x, int tokens) {
        checkTokens(tokens);
        int rows = batch * tokens;
        if (saved != null && saved.rows != rows) {
            saved.close();
            saved = null;
        }
        if (saved == null) saved = new Activations(rows, true);
        run(y, x, tokens, saved);
        this.x = x;
    }

    private void checkTokens(int tokens) {
        if (tokens < 1 || tokens > capacity)
            throw new IllegalArgumentException("tokens " + tokens + " outside [1, capacity=" + capacity + "]");
    }

    /** A forward's intermediates for N rows (bf16 unless said); the query-path ones only with Rq. */
    private final class Activations implements AutoCloseable {
        final int rows;
        final DeviceBuffer q, a, c, kvUp, k, v, o, lse; // [N, n, Dqk] (rope slice rotated), [N, R + Dr], [N, R],
                                                        // [N, n, Dn + Dv], [N, n, Dqk], [N, n, Dv], [N, n, Dv], [B, n, T] fp32
        final DeviceBuffer pre, normed, rstd;           // [N, Rq] W_DQ x, [N, Rq] c^Q, [N] fp32; or null
        final DeviceBuffer oLo;                         // [N, n, Dv] o's rounding residual (training), or null
        private final OwnedBuffers all = new OwnedBuffers(cuda);

        /**
         * {@code training}: the backward follows, so the core also writes o's rounding residual for its Dv (as the
         * CCA layer: {@link CudaCcaLayer#RESIDUAL}, on unless that property is false).
         */
        Activations(int rows, boolean training) {
            this.rows = rows;
            try {
                this.q = alloc(n * dqk * 2L);
                this.a = alloc(rowWidth * 2L);
                this.c = alloc(r * 2L);
                this.kvUp = alloc(n * (dn + dv) * 2L);
                this.k = alloc(n * dqk * 2L);
                this.v = alloc(n * dv * 2L);
                this.o = alloc(n * dv * 2L);
                this.lse = alloc(n * 4L);
                boolean qc = w.q() == null;
                this.pre = qc ? alloc(rq * 2L) : null;
                this.normed = qc ? alloc(rq * 2L) : null;
                this.rstd = qc ? alloc(4) : null;
                this.oLo = training && Boolean.parseBoolean(System.getProperty(CudaCcaLayer.RESIDUAL, "true"))
                        ? alloc(n * dv * 2L) : null;
            } catch (RuntimeException ex) {
                close();
                throw ex;
            }
        }

        private DeviceBuffer alloc(long bytesPerRow) {
            return all.keep(cuda.allocate(bytesPerRow * rows));
        }

        @Override
        public void close() {
            all.close();
        }
    }

    private void run(DeviceBuffer y, DeviceBuffer x, int tokens, Activations act) {
        int rows = batch * tokens;
        CudaMla.need(x, (long) rows * e * 2, "x");
        CudaMla.need(y, (long) rows * e * 2, "y");
        // 1. queries, rope slice rotated at positions 0..T-1
        queries(act.q, x, rows, tokens, 0, act.pre, act.normed, act.rstd);
        // 2. latent: a = W_kva x; cache rows [RMSNorm(a[:R]) ; RoPE(a[R:])], c again contiguous for kv_b
        cuda.gemmNt(act.a, x, w.kva(), rows, rowWidth, e);
        mla.kvLatent(act.c, cache, act.a, w.kvNorm(), batch, tokens, capacity, 0, r, dr, cfg.normEps(), cfg.ropeBase());
        // 3-4. per-head up-projection, K = [k^C ; k^R], V
        cuda.gemmNt(act.kvUp, act.c, w.kvb(), rows, n * (dn + dv), r);
        mla.expandKv(act.k, act.v, act.kvUp, cache, batch, tokens, capacity, n, dn, dr, dv, r);
        // 5-6. causal attention with scale Dqk^-1/2, output projection
        mla.forward(act.o, act.oLo, act.lse, act.q, act.k, act.v, batch, tokens, n, dqk, dv, true, scale);
        cuda.gemmNt(y, act.o, w.o(), rows, e, n * dv);
        length = tokens;
    }

    /**
     * dx [B, T, E] bf16 from dy [B, T, E] bf16 (the gradient at the last {@link #forward}'s y); ADDS every parameter
     * gradient into {@link #gradients}' buffers (mla.md section 4, MlaAttention.backward's order).
     */
    public void backward(DeviceBuffer dx, DeviceBuffer dy) {
        if (x == null) throw new IllegalStateException("backward before forward");
        Activations s = saved;
        int rows = s.rows, tokens = rows / batch;
        CudaMla.need(dx, (long) rows * e * 2, "dx");
        CudaMla.need(dy, (long) rows * e * 2, "dy");
        long rh = (long) rows * n;
        List<DeviceBuffer> tmp = new ArrayList<>();
        try {
            // 6. o_proj: dWo += dy^T o; dO = dy Wo
            DeviceBuffer dO = scratch(tmp, rh * dv * 2);
            blas.linearWeightGrad(g.o(), dy, s.o, rows, e, n * dv);
            blas.linearInputGrad(dO, dy, w.o(), rows, n * dv, e, false);
            // 5. the core (fp32 dq, dk, dv)
            DeviceBuffer dq32 = scratch(tmp, rh * dqk * 4), dk32 = scratch(tmp, rh * dqk * 4), dv32 = scratch(tmp, rh * dv * 4);
            mla.backward(dq32, dk32, dv32, s.q, s.k, s.v, s.o, s.oLo, s.lse, dO, batch, tokens, n, dqk, dv, true, scale);
            // 3-4. keys' nope part and values back through kv_b: dW_kvb += dKvUp^T c; dc = dKvUp W_kvb
            DeviceBuffer dKvUp = scratch(tmp, rh * (dn + dv) * 2), dc = scratch(tmp, (long) rows * r * 2);
            mla.kvUpBackward(dKvUp, dk32, dv32, rows, n, dn, dr, dv);
            blas.linearWeightGrad(g.kvb(), dKvUp, s.c, rows, n * (dn + dv), r);
            blas.linearInputGrad(dc, dKvUp, w.kvb(), rows, r, n * (dn + dv), false);
            // 2. latent norm backward and the shared rope key (sum over heads, inverse rotation) into da; kv_a
            DeviceBuffer da = scratch(tmp, (long) rows * rowWidth * 2);
            mla.kvLatentBackward(da, g.kvNorm(), dc, s.a, w.kvNorm(), dk32, batch, tokens, 0, n, dn, r, dr, cfg.normEps(),
                    cfg.ropeBase());
            blas.linearWeightGrad(g.kva(), da, x, rows, rowWidth, e);
            blas.linearInputGrad(dx, da, w.kva(), rows, e, rowWidth, false);
            // 1. queries: inverse rotation of the rope slice, then the direct or the normed low-rank path
            train.rope(dq32, CudaTrainingKernels.Dtype.F32, batch, tokens, n, dqk, dn, dr, 0, cfg.ropeBase(), true);
            DeviceBuffer dq = scratch(tmp, rh * dqk * 2);
            train.castToBf16(dq, dq32, rh * dqk);
            if (w.q() != null) {
                blas.linearWeightGrad(g.q(), dq, x, rows, n * dqk, e);
                blas.linearInputGrad(dx, dq, w.q(), rows, e, n * dqk, true);
            } else {
                DeviceBuffer dNormed = scratch(tmp, (long) rows * rq * 2), dPre = scratch(tmp, (long) rows * rq * 2);
                blas.linearWeightGrad(g.qb(), dq, s.normed, rows, n * dqk, rq);
                blas.linearInputGrad(dNormed, dq, w.qb(), rows, rq, n * dqk, false);
                train.rmsnormBackward(dPre, CudaTrainingKernels.Dtype.BF16, g.qNorm(), null, dNormed, s.pre, w.qNorm(), s.rstd,
                        rows, rq);
                blas.linearWeightGrad(g.qa(), dPre, x, rows, rq, e);
                blas.linearInputGrad(dx, dPre, w.qa(), rows, e, rq, true);
            }
        } finally {
            tmp.forEach(DeviceBuffer::close);
        }
    }

    /** Zeroes every parameter gradient (the backward adds into them). */
    public void zeroGradients() {
        if (!ownsGradients) throw new IllegalStateException("the gradients are the trainer's buffers: it zeroes them");
        g.all().forEach(cuda::zero);
    }

    /** The accumulated parameter gradients under the CPU layer's names (float64 copies of the fp32 buffers). */
    public Map<String, double[]> gradients() {
        if (!ownsGradients) throw new IllegalStateException("the gradients are the trainer's buffers: read them there");
        Map<String, double[]> out = new LinkedHashMap<>();
        long[] sizes = elements();
        DeviceBuffer[] b = array(g);
        for (int i = 0; i < 8; i++)
            if (sizes[i] > 0) out.put(NAMES.get(i), cuda.downloadDoubles(b[i], Math.toIntExact(sizes[i])));
        return out;
    }

    /** y [B, E] for one new token per sequence xt [B, E] at position {@link #length()} (absorbed, mla.md section 3). */
    public void decode(DeviceBuffer y, DeviceBuffer xt) {
        if (length >= capacity) throw new IllegalStateException("the latent cache is full (" + capacity + " tokens)");
        CudaMla.need(xt, (long) batch * e * 2, "xt");
        CudaMla.need(y, (long) batch * e * 2, "y");
        int pos = length;
        List<DeviceBuffer> tmp = new ArrayList<>();
        try {
            DeviceBuffer q = scratch(tmp, (long) batch * n * dqk * 2);       // [B, n, Dqk]
            DeviceBuffer a = scratch(tmp, (long) batch * rowWidth * 2);      // [B, R + Dr]
            DeviceBuffer qa = scratch(tmp, (long) batch * n * rowWidth * 2); // [B, n, R + Dr]
            DeviceBuffer oLat = scratch(tmp, (long) batch * n * r * 4);      // [B, n, R] fp32
            DeviceBuffer att = scratch(tmp, (long) batch * n * dv * 2);      // [B, n, Dv]
            boolean qc = w.q() == null;
            // 1. q^C, q^R rotated at pos; the new cache row [c_t ; k^R_t]
            queries(q, xt, batch, 1, pos, qc ? scratch(tmp, (long) batch * rq * 2) : null,
                    qc ? scratch(tmp, (long) batch * rq * 2) : null, qc ? scratch(tmp, batch * 4L) : null);
            cuda.gemmNt(a, xt, w.kva(), batch, rowWidth, e);
            mla.kvLatent(null, cache, a, w.kvNorm(), batch, 1, capacity, pos, r, dr, cfg.normEps(), cfg.ropeBase());
            // 2. q~ = W_UK,h^T q^C_h; 3. MQA over the latent rows 0..pos; 4. o_h = W_UV,h o~_h, y = W_O o
            mla.absorbQuery(qa, q, w.kvb(), batch, n, dn, dr, dv, r);
            mla.decode(oLat, qa, cache, batch, pos + 1, capacity, n, r, dr, scale);
            mla.unabsorb(att, oLat, w.kvb(), batch, n, dn, dv, r);
            cuda.gemmNt(y, att, w.o(), batch, e, n * dv);
            length = pos + 1;
        } finally {
            tmp.forEach(DeviceBuffer::close);
        }
    }

    /**
     * q [rows, n, Dqk] from x [rows, E] (directly or through the normed low-rank path: pre, normed [rows, Rq] and
     * rstd [rows] written), rope slice rotated.
     */
    private void queries(DeviceBuffer q, DeviceBuffer x, int rows, int tokens, int pos0, DeviceBuffer pre, DeviceBuffer normed,
                         DeviceBuffer rstd) {
        if (w.q() != null) {
            cuda.gemmNt(q, x, w.q(), rows, n * dqk, e);
        } else {
            cuda.gemmNt(pre, x, w.qa(), rows, rq, e);
            train.rmsnormForward(normed, rstd, pre, w.qNorm(), rows, rq, cfg.normEps());
            cuda.gemmNt(q, normed, w.qb(), rows, n * dqk, rq);
        }
        train.rope(q, CudaTrainingKernels.Dtype.BF16, rows / tokens, tokens, n, dqk, dn, dr, pos0, cfg.ropeBase(), false);
    }

    private DeviceBuffer scratch(List<DeviceBuffer> tmp, long bytes) {
        DeviceBuffer b = cuda.allocate(bytes);
        tmp.add(b);
        return b;
    }

    static double[] param(Map<String, double[]> params, String name, long elements) {
        double[] d = params.get(name);
        if (d == null) throw new IllegalArgumentException("MLA parameter " + name + " missing (have " + params.keySet() + ")");
        if (d.length != elements)
            throw new IllegalArgumentException("MLA parameter " + name + " has " + d.length + " values, the config needs " + elements);
        return d;
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    @Override
    public void close() {
        if (saved != null) saved.close();
        saved = null;
        owned.close();
    }
}
