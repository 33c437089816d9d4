package org.ccalab.engine.attention.mla;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.random.RandomGenerator;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.engine.attention.AttentionCore;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.DecodeState;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.attention.parts.Init;
import org.ccalab.engine.attention.parts.KvCache;
import org.ccalab.engine.attention.parts.Linear;
import org.ccalab.engine.attention.parts.Qkv;
import org.ccalab.engine.attention.parts.Shapes;
import org.ccalab.engine.attention.parts.SoftmaxCore;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.backend.cpu.Rope;
import org.ccalab.engine.tensor.Tensor;

/**
 * Multi-head latent attention as mla.md defines it. Letters: n heads, Dn / Dr / Dv = qk_nope / qk_rope / v
 * head dims, Dqk = Dn + Dr, Rq / Rkv = q / kv LoRA ranks. Parameters under the Hugging Face DeepSeek-V2
 * names, PyTorch layouts, no biases: {@code q_proj.weight} [n Dqk, E] (Rq = 0) or {@code q_a_proj.weight}
 * [Rq, E], {@code q_a_layernorm.weight} [Rq], {@code q_b_proj.weight} [n Dqk, Rq]; then
 * {@code kv_a_proj_with_mqa.weight} [Rkv + Dr, E], {@code kv_a_layernorm.weight} [Rkv],
 * {@code kv_b_proj.weight} [n (Dn + Dv), Rkv], {@code o_proj.weight} [E, n Dv].
 *
 * <p>RoPE is rotate-half on each Dr slice (mla.md open question 1): DeepSeek checkpoints store interleaved
 * pairs, so their rope rows must be permuted by [0, 2, ..., Dr - 2, 1, 3, ..., Dr - 1] when loaded. Prefill
 * runs in "MHA mode" (K and V expanded per head); decode is the absorbed form of mla.md section 3 over the
 * latent cache (c_t, k^R_t), with softmax scale 1 / sqrt(Dqk) in both.
 */
public final class MlaAttention implements AttentionLayer {
    private final MlaConfig config;
    private final int width, heads, nope, ropeDim, vDim, qkDim, qRank, kvRank;
    private final double scale;
    private final CpuBackend cpu;
    private final Rope rope;
    private final Linear qDirect, qA, qB, kvA, kvB, o; // qDirect, or qA + qB with qNorm
    private final LatentNorm qNorm, kvNorm;
    private final SoftmaxCore core;

    public MlaAttention(MlaConfig config, CpuBackend cpu, RandomGenerator rng) {
        this.config = config;
        this.cpu = cpu;
        this.width = config.dModel();
        this.heads = config.nHeads();
        this.nope = config.qkNopeHeadDim();
        this.ropeDim = config.qkRopeHeadDim();
        this.vDim = config.vHeadDim();
        this.qkDim = config.qkHeadDim();
        this.qRank = config.qLoraRank();
        this.kvRank = config.kvLoraRank();
        this.scale = 1 / Math.sqrt(qkDim);
        this.rope = new Rope(ropeDim, config.ropeBase());
        if (config.hasQueryCompression()) {
            this.qDirect = null;
            this.qA = new Linear(Init.linear("q_a_proj.weight", rng, qRank, width));
            this.qNorm = new LatentNorm(Init.constant("q_a_layernorm.weight", 1.0, qRank), config.normEps());
            this.qB = new Linear(Init.linear("q_b_proj.weight", rng, heads * qkDim, qRank));
        } else {
            this.qDirect = new Linear(Init.linear("q_proj.weight", rng, heads * qkDim, width));
            this.qA = null;
            this.qNorm = null;
            this.qB = null;
        }
        this.kvA = new Linear(Init.linear("kv_a_proj_with_mqa.weight", rng, kvRank + ropeDim, width));
        this.kvNorm = new LatentNorm(Init.constant("kv_a_layernorm.weight", 1.0, kvRank), config.normEps());
        this.kvB = new Linear(Init.linear("kv_b_proj.weight", rng, heads * (nope + vDim), kvRank));
        this.o = new Linear(Init.linear("o_proj.weight", rng, width, heads * vDim));
        this.core = new SoftmaxCore(cpu, heads, heads, qkDim, vDim, scale,
                x -> project(x, new QueryPath(), new KvLatent[1]), o,
                new AttentionCore.DecodeShape(heads, 1, kvRank + ropeDim, kvRank, scale));
    }

    @Override
    public MlaConfig config() {
        return config;
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> p = new ArrayList<>();
        if (qDirect != null) p.add(qDirect.weight());
        else p.addAll(List.of(qA.weight(), qNorm.weight(), qB.weight()));
        p.addAll(List.of(kvA.weight(), kvNorm.weight(), kvB.weight(), o.weight()));
        return List.copyOf(p);
    }

    /** Step 1: queries [rows, n, Dqk] with the rope slice rotated; fills the low-rank intermediates. */
    private double[] queries(double[] x, int batch, int tokens, int pos0, QueryPath path) {
        int rows = batch * tokens;
        var mm = cpu.matmul();
        double[] q;
        if (qDirect != null) {
            q = qDirect.forward(mm, x, rows);
        } else {
            path.pre = qA.forward(mm, x, rows);
            path.inv = new double[rows];
            path.normed = qNorm.forward(path.pre, 0, qRank, rows, path.inv);
            q = qB.forward(mm, path.normed, rows);
        }
        rope.apply(q, batch, tokens, pos0, heads, qkDim, nope, false);
        return q;
    }

    /** Low-rank query intermediates kept for backward (unused with a direct query projection). */
    private static final class QueryPath {
        double[] pre;    // [rows, Rq] W_DQ x
        double[] inv;    // [rows]
        double[] normed; // [rows, Rq] c^Q
    }

    /** Step 2: a = W_kva x [rows, Rkv + Dr]; c = RMSNorm(a[:Rkv]) [rows, Rkv]; k^R = RoPE(a[Rkv:]) [rows, Dr]. */
    private record KvLatent(double[] a, double[] kvInv, double[] c, double[] kRope) {}

    private KvLatent kvLatent(double[] x, int batch, int tokens, int pos0) {
        int rows = batch * tokens, aw = kvRank + ropeDim;
        double[] a = kvA.forward(cpu.matmul(), x, rows);
        double[] inv = new double[rows];
        double[] c = kvNorm.forward(a, 0, aw, rows, inv);
        double[] kr = new double[rows * ropeDim];
        for (int r = 0; r < rows; r++) System.arraycopy(a, r * aw + kvRank, kr, r * ropeDim, ropeDim);
        rope.apply(kr, batch, tokens, pos0, 1, ropeDim, 0, false);
        return new KvLatent(a, inv, c, kr);
    }

    private record Saved(double[] x,      // [B, T, E]
                         QueryPath qPath,
                         KvLatent kv,
                         ForwardPass core) // over q [B, T, n, Dqk], k [B, T, n, Dqk] = [W_UK,h c ; k^R], v [B, T, n, Dv]
    {}

    @Override
    public Optional<AttentionCore<?>> core() {
        return Optional.of(core);
    }

    /** Steps 1-4 for x [B, T, E]: queries, the latent, and its per-head expansion ("MHA mode"). */
    private Qkv project(Tensor input, QueryPath path, KvLatent[] kvOut) {
        Shapes.requireSequence("x", input, width);
        int batch = input.dim(0), tokens = input.dim(1), rows = batch * tokens;
        double[] x = input.data();
        double[] q = queries(x, batch, tokens, 0, path);
        KvLatent kv = kvLatent(x, batch, tokens, 0);
        kvOut[0] = kv;
        // 3-4. Expand the latent per head and append the shared rope key to every head.
        double[] kvUp = kvB.forward(cpu.matmul(), kv.c, rows); // [rows, n, Dn + Dv]
        double[] k = new double[rows * heads * qkDim], v = new double[rows * heads * vDim];
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++) {
                int src = (r * heads + h) * (nope + vDim);
                System.arraycopy(kvUp, src, k, (r * heads + h) * qkDim, nope);
                System.arraycopy(kv.kRope, r * ropeDim, k, (r * heads + h) * qkDim + nope, ropeDim);
                System.arraycopy(kvUp, src + nope, v, (r * heads + h) * vDim, vDim);
            }
        return new Qkv(batch, tokens, q, k, v);
    }

    @Override
    public ForwardPass forward(Tensor input) {
        QueryPath path = new QueryPath();
        KvLatent[] kv = new KvLatent[1];
        Qkv in = project(input, path, kv);
        // 5-6. Causal attention per head, then the output projection.
        ForwardPass att = core.forward(in);
        return new ForwardPass(core.project(att.output()), new Saved(input.data().clone(), path, kv[0], att));
    }

    @Override
    public Tensor backward(ForwardPass pass, Tensor dyT) {
        Saved s = Shapes.requireState(pass.saved(), Saved.class, "MLA");
        Shapes.requireSequence("dy", dyT, width);
        Tensor attT = s.core.output();
        int batch = attT.dim(0), tokens = attT.dim(1), rows = batch * tokens, aw = kvRank + ropeDim;
        var mm = cpu.matmul();
        double[] dx = new double[rows * width];
        double[] dAtt = new double[rows * heads * vDim];
        o.backward(mm, dAtt, dyT.data(), attT.data(), rows);
        Qkv g = core.backward(s.core, Tensor.wrap(dAtt, batch, tokens, heads * vDim));
        double[] dq = g.q(), dk = g.k(), dv = g.v();
        // Keys: the nope part and values go back through kv_b; the shared rope key sums over heads.
        double[] dKvUp = new double[rows * heads * (nope + vDim)];
        double[] dkRope = new double[rows * ropeDim];
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++) {
                int dst = (r * heads + h) * (nope + vDim), ki = (r * heads + h) * qkDim;
                System.arraycopy(dk, ki, dKvUp, dst, nope);
                System.arraycopy(dv, (r * heads + h) * vDim, dKvUp, dst + nope, vDim);
                for (int c = 0; c < ropeDim; c++) dkRope[r * ropeDim + c] += dk[ki + nope + c];
            }
        double[] dc = new double[rows * kvRank];
        kvB.backward(mm, dc, dKvUp, s.kv.c, rows);
        rope.apply(dkRope, batch, tokens, 0, 1, ropeDim, 0, true);
        double[] da = new double[rows * aw];
        kvNorm.backward(da, dc, s.kv.a, 0, aw, rows, s.kv.kvInv);
        for (int r = 0; r < rows; r++) System.arraycopy(dkRope, r * ropeDim, da, r * aw + kvRank, ropeDim);
        kvA.backward(mm, dx, da, s.x, rows);
        // Queries.
        rope.apply(dq, batch, tokens, 0, heads, qkDim, nope, true);
        if (qDirect != null) {
            qDirect.backward(mm, dx, dq, s.x, rows);
        } else {
            double[] dNormed = new double[rows * qRank], dPre = new double[rows * qRank];
            qB.backward(mm, dNormed, dq, s.qPath.normed, rows);
            qNorm.backward(dPre, dNormed, s.qPath.pre, 0, qRank, rows, s.qPath.inv);
            qA.backward(mm, dx, dPre, s.x, rows);
        }
        return Tensor.wrap(dx, batch, tokens, width);
    }

    /**
     * The latent cache: one row [c_t ; k^R_t] of Rkv + Dr values per token. The kernel reads values from a
     * separate array, so c_t is held twice in memory; {@link #bytes} reports the cache the algorithm needs.
     */
    static final class State implements DecodeState {
        final int batch, rowWidth;
        final KvCache cache; // keys [B, cap, 1, Rkv + Dr], values [B, cap, 1, Rkv]

        State(int batch, int kvRank, int ropeDim) {
            this.batch = batch;
            this.rowWidth = kvRank + ropeDim;
            this.cache = new KvCache(batch, 1, kvRank + ropeDim, kvRank);
        }

        @Override
        public int position() {
            return cache.length();
        }

        @Override
        public long bytes(int bytesPerElement) {
            return (long) batch * cache.length() * rowWidth * bytesPerElement;
        }
    }

    @Override
    public DecodeState newDecodeState(int batch) {
        if (batch < 1) throw new IllegalArgumentException("batch: must be >= 1, got " + batch);
        return new State(batch, kvRank, ropeDim);
    }

    @Override
    public Tensor decode(DecodeState decodeState, Tensor xt) {
        State st = Shapes.requireState(decodeState, State.class, "MLA");
        Shapes.requireToken("xt", xt, st.batch, width);
        return prefill(st, xt.reshape(st.batch, 1, width)).reshape(st.batch, width);
    }

    /** Absorbed attention (mla.md section 3) for each new token over the latent cache. */
    @Override
    public Tensor prefill(DecodeState decodeState, Tensor xChunk) {
        State st = Shapes.requireState(decodeState, State.class, "MLA");
        Shapes.requireChunk("x", xChunk, st.batch, width);
        int b = st.batch, tokens = xChunk.dim(1), rows = b * tokens, pos = st.position(), rowW = kvRank + ropeDim;
        double[] x = xChunk.data();
        double[] q = queries(x, b, tokens, pos, new QueryPath()); // [B, T, n, Dqk]
        KvLatent kv = kvLatent(x, b, tokens, pos);
        double[] keyRows = new double[rows * rowW]; // [B, T, Rkv + Dr] = [c_t ; k^R_t]
        for (int r = 0; r < rows; r++) {
            System.arraycopy(kv.c, r * kvRank, keyRows, r * rowW, kvRank);
            System.arraycopy(kv.kRope, r * ropeDim, keyRows, r * rowW + kvRank, ropeDim);
        }
        st.cache.append(keyRows, kv.c, tokens);
        // Absorb W_UK into the query: q~_h = W_UK,h^T q^C_h; the rope part stays as is.
        double[] w = kvB.weight().value().data(); // [n, Dn + Dv, Rkv]
        double[] qAbs = new double[rows * heads * rowW]; // [B, T, n, Rkv + Dr]
        cpu.parallel().forRange(rows * heads, 1, (from, to) -> {
            for (int rh = from; rh < to; rh++) {
                int h = rh % heads, qi = rh * qkDim, out = rh * rowW;
                for (int i = 0; i < nope; i++) {
                    double qc = q[qi + i];
                    int wi = (h * (nope + vDim) + i) * kvRank;
                    for (int j = 0; j < kvRank; j++) qAbs[out + j] += qc * w[wi + j];
                }
                System.arraycopy(q, qi + nope, qAbs, out + kvRank, ropeDim);
            }
        });
        // MQA over the latent rows with the original scale 1 / sqrt(Dqk).
        double[] latentOut = new double[rows * heads * kvRank]; // [B, T, n, Rkv]
        cpu.attention().decodeChunk(latentOut, qAbs, tokens, st.cache.keys(), st.cache.values(), st.cache.capacity(),
                st.cache.length(), b, heads, 1, rowW, kvRank, scale);
        // Un-absorb: o_h = W_UV,h o~_h.
        double[] att = new double[rows * heads * vDim];
        cpu.parallel().forRange(rows * heads, 1, (from, to) -> {
            for (int rh = from; rh < to; rh++) {
                int h = rh % heads, li = rh * kvRank;
                for (int i = 0; i < vDim; i++) {
                    int wi = (h * (nope + vDim) + nope + i) * kvRank;
                    double sum = 0;
                    for (int j = 0; j < kvRank; j++) sum += w[wi + j] * latentOut[li + j];
                    att[rh * vDim + i] = sum;
                }
            }
        });
        return Tensor.wrap(o.forward(cpu.matmul(), att, rows), b, tokens, width);
    }
}
