package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.MlaConfig;

/**
 * The MLA layer (mla.md sections 2-3) on the GPU, forward only: bf16 weights under the Hugging Face DeepSeek-V2
 * names and layouts ({@link org.ccalab.engine.attention.mla.MlaAttention}), a latent cache of one row
 * [c_t ; k^R_t] per token, prefill in "MHA mode" and one-token absorbed decode. Letters: B batch, T tokens,
 * E width, n heads, Dn / Dr / Dv head dims, Dqk = Dn + Dr, Rq / R = q / kv LoRA ranks, cap cache capacity.
 *
 * <p>GEMMs go through the backend's cuBLAS (bf16 in and out, fp32 accumulation); RoPE on the query's rope slice
 * and the query RMSNorm (with Rq) are the training kernels (same rotate-half layout as the CPU's Rope); the
 * latent norm + key RoPE, the K/V expansion, the absorption and un-absorption are mla_layer.cuh's. Not
 * thread-safe; one stream.
 */
public final class CudaMlaLayer implements AutoCloseable {
    private final CudaBackend cuda;
    private final CudaMla mla;
    private final CudaTrainingKernels train;
    private final MlaConfig cfg;
    private final int e, n, dn, dr, dv, dqk, rq, r, rowWidth;
    private final double scale;
    private final List<DeviceBuffer> owned = new ArrayList<>();
    // weights, bf16 unless said (PyTorch [out, in])
    private final DeviceBuffer wq;      // q_proj [n Dqk, E], or null with Rq
    private final DeviceBuffer wqa;     // q_a_proj [Rq, E], or null
    private final DeviceBuffer wqNorm;  // q_a_layernorm [Rq] fp32, or null
    private final DeviceBuffer wqb;     // q_b_proj [n Dqk, Rq], or null
    private final DeviceBuffer wkva;    // kv_a_proj_with_mqa [R + Dr, E]
    private final DeviceBuffer wkvNorm; // kv_a_layernorm [R] fp32
    private final DeviceBuffer wkvb;    // kv_b_proj [n (Dn + Dv), R]
    private final DeviceBuffer wo;      // o_proj [E, n Dv]
    // the latent cache [B, cap, R + Dr] and how many rows of it are valid
    private final int batch, capacity;
    private final DeviceBuffer cache;
    private int length;

    /**
     * Uploads the parameters (values in the CPU layer's layouts, rounded to bf16 here; norm weights to fp32)
     * and allocates a cache for {@code batch} sequences of up to {@code capacity} tokens.
     */
    public CudaMlaLayer(CudaBackend cuda, MlaConfig cfg, Map<String, double[]> params, int batch, int capacity) {
        String why = CudaMlaKernels.unsupported(cfg);
        if (why != null) throw new InvalidConfigException("variant", why);
        if (batch < 1 || capacity < 1)
            throw new IllegalArgumentException("batch " + batch + " and capacity " + capacity + " must be positive");
        this.cuda = cuda;
        this.mla = new CudaMla(cuda);
        this.train = new CudaTrainingKernels(cuda.kernels(), cuda.device());
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
            boolean qc = cfg.hasQueryCompression();
            this.wq = qc ? null : bf16(params, "q_proj.weight", (long) n * dqk * e);
            this.wqa = qc ? bf16(params, "q_a_proj.weight", (long) rq * e) : null;
            this.wqNorm = qc ? fp32(params, "q_a_layernorm.weight", rq) : null;
            this.wqb = qc ? bf16(params, "q_b_proj.weight", (long) n * dqk * rq) : null;
            this.wkva = bf16(params, "kv_a_proj_with_mqa.weight", (long) rowWidth * e);
            this.wkvNorm = fp32(params, "kv_a_layernorm.weight", r);
            this.wkvb = bf16(params, "kv_b_proj.weight", (long) n * (dn + dv) * r);
            this.wo = bf16(params, "o_proj.weight", (long) e * n * dv);
            this.cache = keep(cuda.allocate((long) batch * capacity * rowWidth * 2));
        } catch (RuntimeException ex) {
            close();
            throw ex;
        }
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
     * tokens and decode continues at position T.
     */
    public void prefill(DeviceBuffer y, DeviceBuffer x, int tokens) {
        if (tokens < 1 || tokens > capacity)
            throw new IllegalArgumentException("tokens " + tokens + " outside [1, capacity=" + capacity + "]");
        int rows = batch * tokens;
        CudaMla.need(x, (long) rows * e * 2, "x");
        CudaMla.need(y, (long) rows * e * 2, "y");
        List<DeviceBuffer> tmp = new ArrayList<>();
        try {
            DeviceBuffer q = scratch(tmp, (long) rows * n * dqk * 2);        // [B, T, n, Dqk]
            DeviceBuffer a = scratch(tmp, (long) rows * rowWidth * 2);       // [B, T, R + Dr]
            DeviceBuffer c = scratch(tmp, (long) rows * r * 2);              // [B, T, R]
            DeviceBuffer kvUp = scratch(tmp, (long) rows * n * (dn + dv) * 2); // [B, T, n, Dn + Dv]
            DeviceBuffer k = scratch(tmp, (long) rows * n * dqk * 2);        // [B, T, n, Dqk]
            DeviceBuffer v = scratch(tmp, (long) rows * n * dv * 2);         // [B, T, n, Dv]
            DeviceBuffer o = scratch(tmp, (long) rows * n * dv * 2);         // [B, T, n, Dv]
            DeviceBuffer lse = scratch(tmp, (long) rows * n * 4);            // [B, n, T]
            // 1. queries, rope slice rotated at positions 0..T-1
            queries(q, x, rows, tokens, 0, tmp);
            // 2. latent: a = W_kva x; cache rows [RMSNorm(a[:R]) ; RoPE(a[R:])], c again contiguous for kv_b
            cuda.gemmNt(a, x, wkva, rows, rowWidth, e);
            mla.kvLatent(c, cache, a, wkvNorm, batch, tokens, capacity, 0, r, dr, cfg.normEps(), cfg.ropeBase());
            // 3-4. per-head up-projection, K = [k^C ; k^R], V
            cuda.gemmNt(kvUp, c, wkvb, rows, n * (dn + dv), r);
            mla.expandKv(k, v, kvUp, cache, batch, tokens, capacity, n, dn, dr, dv, r);
            // 5-6. causal attention with scale Dqk^-1/2, output projection
            mla.forward(o, lse, q, k, v, batch, tokens, n, dqk, dv, true, scale);
            cuda.gemmNt(y, o, wo, rows, e, n * dv);
            length = tokens;
        } finally {
            tmp.forEach(DeviceBuffer::close);
        }
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
            // 1. q^C, q^R rotated at pos; the new cache row [c_t ; k^R_t]
            queries(q, xt, batch, 1, pos, tmp);
            cuda.gemmNt(a, xt, wkva, batch, rowWidth, e);
            mla.kvLatent(null, cache, a, wkvNorm, batch, 1, capacity, pos, r, dr, cfg.normEps(), cfg.ropeBase());
            // 2. q~ = W_UK,h^T q^C_h; 3. MQA over the latent rows 0..pos; 4. o_h = W_UV,h o~_h, y = W_O o
            mla.absorbQuery(qa, q, wkvb, batch, n, dn, dr, dv, r);
            mla.decode(oLat, qa, cache, batch, pos + 1, capacity, n, r, dr, scale);
            mla.unabsorb(att, oLat, wkvb, batch, n, dn, dv, r);
            cuda.gemmNt(y, att, wo, batch, e, n * dv);
            length = pos + 1;
        } finally {
            tmp.forEach(DeviceBuffer::close);
        }
    }

    /** q [rows, n, Dqk] from x [rows, E] (directly or through the normed low-rank path), rope slice rotated. */
    private void queries(DeviceBuffer q, DeviceBuffer x, int rows, int tokens, int pos0, List<DeviceBuffer> tmp) {
        if (wq != null) {
            cuda.gemmNt(q, x, wq, rows, n * dqk, e);
        } else {
            DeviceBuffer pre = scratch(tmp, (long) rows * rq * 2), normed = scratch(tmp, (long) rows * rq * 2);
            DeviceBuffer rstd = scratch(tmp, rows * 4L);
            cuda.gemmNt(pre, x, wqa, rows, rq, e);
            train.rmsnormForward(normed, rstd, pre, wqNorm, rows, rq, cfg.normEps());
            cuda.gemmNt(q, normed, wqb, rows, n * dqk, rq);
        }
        train.rope(q, CudaTrainingKernels.Dtype.BF16, rows / tokens, tokens, n, dqk, dn, dr, pos0, cfg.ropeBase(), false);
    }

    private DeviceBuffer scratch(List<DeviceBuffer> tmp, long bytes) {
        DeviceBuffer b = cuda.allocate(bytes);
        tmp.add(b);
        return b;
    }

    private DeviceBuffer keep(DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    private DeviceBuffer bf16(Map<String, double[]> params, String name, long elements) {
        return keep(cuda.uploadBf16(Bf16.fromDoubles(param(params, name, elements))));
    }

    private DeviceBuffer fp32(Map<String, double[]> params, String name, int elements) {
        double[] d = param(params, name, elements);
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return keep(cuda.uploadFloats(f));
    }

    static double[] param(Map<String, double[]> params, String name, long elements) {
        double[] d = params.get(name);
        if (d == null) throw new IllegalArgumentException("MLA parameter " + name + " missing (have " + params.keySet() + ")");
        if (d.length != elements)
            throw new IllegalArgumentException("MLA parameter " + name + " has " + d.length + " values, the config needs " + elements);
        return d;
    }

    @Override
    public void close() {
        owned.forEach(DeviceBuffer::close);
        owned.clear();
    }
}
