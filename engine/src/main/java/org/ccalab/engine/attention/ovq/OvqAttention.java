package org.ccalab.engine.attention.ovq;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.DecodeState;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.attention.parts.Init;
import org.ccalab.engine.attention.parts.Linear;
import org.ccalab.engine.attention.parts.Shapes;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.tensor.Tensor;

/**
 * Online vector-quantized attention (ovq.md sections 4-6), NoPE. Parameters, PyTorch layout, no biases:
 * {@code q_proj.weight}, {@code k_proj.weight}, {@code v_proj.weight} [H*D, E], {@code o_proj.weight} [E, H*D]
 * and, when {@code learnBeta}, {@code beta_log} [H] with beta_h = exp(b_h), b_h = ln sqrt(D) initially (fixed
 * beta = sqrt(D) otherwise). Per head, q and k are L2-normalised (q / sqrt(|q|^2 + 1e-12)), v is not; each
 * (sequence, head) runs its own {@link OvqHead}: chunks of L tokens read the dictionary folded from earlier
 * chunks plus their own chunk exactly, then a complete chunk is folded in (a trailing partial chunk stays in
 * the open buffer). Compute O(T (n + L) D) for the reads and O(L n D) per fold, no T^2 term.
 *
 * <p>There is no separate {@link org.ccalab.engine.attention.AttentionCore}: the benchmarks' CORE cells assume
 * a softmax decode over a cache of S keys and a quadratic FLOP count, neither of which is OVQ's, so CORE cells
 * time the whole layer.
 */
public final class OvqAttention implements AttentionLayer {
    private final OvqConfig config;
    private final OvqSpec spec;
    private final int width, heads, headDim;
    private final CpuBackend cpu;
    private final Linear q, k, v, o;
    private final Parameter betaLog; // [H], null when beta is fixed
    private final OvqHeadGradient gradient;

    public OvqAttention(OvqConfig config, CpuBackend cpu, RandomGenerator rng) {
        this.config = config;
        this.spec = config.ovq();
        this.cpu = cpu;
        this.width = config.dModel();
        this.heads = config.nHeads();
        this.headDim = config.headDim();
        int inner = heads * headDim;
        this.q = new Linear(Init.linear("q_proj.weight", rng, inner, width));
        this.k = new Linear(Init.linear("k_proj.weight", rng, inner, width));
        this.v = new Linear(Init.linear("v_proj.weight", rng, inner, width));
        this.o = new Linear(Init.linear("o_proj.weight", rng, width, inner));
        this.betaLog = spec.learnBeta() ? Init.constant("beta_log", Math.log(Math.sqrt(headDim)), heads) : null;
        this.gradient = new OvqHeadGradient(spec, headDim);
    }

    @Override
    public AttentionConfig config() {
        return config;
    }

    @Override
    public List<Parameter> parameters() {
        return betaLog == null ? List.of(q.weight(), k.weight(), v.weight(), o.weight())
                : List.of(q.weight(), k.weight(), v.weight(), o.weight(), betaLog);
    }

    private double[] betas() {
        double[] beta = new double[heads];
        for (int h = 0; h < heads; h++)
            beta[h] = betaLog == null ? Math.sqrt(headDim) : Math.exp(betaLog.value().data()[h]);
        return beta;
    }

    /** q and k of T tokens, raw and per-head L2-normalised, and v. */
    private record Projected(double[] qRaw,  // [B, T, H, D]
                             double[] kRaw,  // [B, T, H, D]
                             double[] qHat,  // [B, T, H, D] q / sqrt(|q|^2 + eps)
                             double[] kHat,  // [B, T, H, D]
                             double[] qInv,  // [B, T, H] 1 / sqrt(|q|^2 + eps)
                             double[] kInv,  // [B, T, H]
                             double[] v)     // [B, T, H, D]
    {}

    private Projected project(double[] x, int rows) {
        var mm = cpu.matmul();
        double[] qr = q.forward(mm, x, rows), kr = k.forward(mm, x, rows), vv = v.forward(mm, x, rows);
        double[] qInv = new double[rows * heads], kInv = new double[rows * heads];
        return new Projected(qr, kr, normalize(qr, qInv), normalize(kr, kInv), qInv, kInv, vv);
    }

    private double[] normalize(double[] x, double[] inv) {
        double[] y = new double[x.length];
        for (int r = 0; r < inv.length; r++) {
            int off = r * headDim;
            double ss = 0;
            for (int i = 0; i < headDim; i++) ss += x[off + i] * x[off + i];
            inv[r] = 1 / Math.sqrt(ss + OvqHead.NORM_EPS);
            for (int i = 0; i < headDim; i++) y[off + i] = x[off + i] * inv[r];
        }
        return y;
    }

    /** y = x r: dx = r (dy - x r^2 (x . dy)). */
    private double[] normalizeBackward(double[] dy, double[] x, double[] inv) {
        double[] dx = new double[x.length];
        for (int r = 0; r < inv.length; r++) {
            int off = r * headDim;
            double dot = 0;
            for (int i = 0; i < headDim; i++) dot += x[off + i] * dy[off + i];
            double ir = inv[r];
            for (int i = 0; i < headDim; i++) dx[off + i] = ir * (dy[off + i] - x[off + i] * ir * ir * dot);
        }
        return dx;
    }

    /**
     * Runs T tokens of every (sequence, head) through its state: att [B, T, H, D] gets the reads. Heads are
     * independent tasks, each writing only its own slice, so results do not depend on the thread count.
     */
    private double[] run(OvqHead[] states, Projected p, int batch, int tokens, double[] beta,
                         List<List<OvqHead.FoldRecord>> folds) {
        double[] att = new double[batch * tokens * heads * headDim];
        int stride = heads * headDim;
        cpu.parallel().forRange(batch * heads, 1, (from, to) -> {
            for (int bh = from; bh < to; bh++) {
                int b = bh / heads, h = bh % heads, base = (b * tokens * heads + h) * headDim;
                OvqHead st = states[bh];
                List<OvqHead.FoldRecord> sink = folds == null ? null : folds.get(bh);
                for (int t = 0; t < tokens; t++) {
                    int off = base + t * stride;
                    st.step(p.qHat, off, p.kHat, off, p.v, off, beta[h], att, off, sink);
                }
            }
        });
        return att;
    }

    /** What backward needs: the input, the projections, the reads, each head's final state and fold records. */
    private record Saved(int batch, int tokens,
                         double[] x,       // [B, T, E]
                         Projected p,
                         double[] att,     // [B, T, H, D]
                         double[] beta,    // [H]
                         OvqHead[] heads,  // [B * H]
                         List<List<OvqHead.FoldRecord>> folds) // [B * H][T / L]
    {}

    @Override
    public ForwardPass forward(Tensor input) {
        Shapes.requireSequence("x", input, width);
        int batch = input.dim(0), tokens = input.dim(1), rows = batch * tokens;
        Projected p = project(input.data(), rows);
        double[] beta = betas();
        OvqHead[] states = newHeads(batch);
        List<List<OvqHead.FoldRecord>> folds = new ArrayList<>();
        for (int i = 0; i < states.length; i++) folds.add(new ArrayList<>());
        double[] att = run(states, p, batch, tokens, beta, folds);
        Tensor y = Tensor.wrap(o.forward(cpu.matmul(), att, rows), batch, tokens, width);
        return new ForwardPass(y, new Saved(batch, tokens, input.data().clone(), p, att, beta, states, folds));
    }

    /**
     * The discrete choices of a forward pass, per (sequence, head) and fold: n before, rows written, founding
     * tokens, each token's row slot. Finite-difference tests compare them to know no perturbation flipped one.
     */
    static List<int[]> decisions(ForwardPass pass) {
        Saved s = Shapes.requireState(pass.saved(), Saved.class, "OVQ");
        List<int[]> out = new ArrayList<>();
        for (List<OvqHead.FoldRecord> head : s.folds)
            for (OvqHead.FoldRecord r : head) {
                out.add(new int[] {r.nBefore()});
                out.add(r.rows());
                out.add(r.founderToken());
                out.add(r.slot());
            }
        return out;
    }

    @Override
    public Tensor backward(ForwardPass pass, Tensor dyT) {
        Saved s = Shapes.requireState(pass.saved(), Saved.class, "OVQ");
        Shapes.requireSequence("dy", dyT, width);
        int batch = s.batch, tokens = s.tokens, rows = batch * tokens, stride = heads * headDim;
        var mm = cpu.matmul();
        double[] dAtt = new double[rows * stride]; // [B, T, H, D]
        o.backward(mm, dAtt, dyT.data(), s.att, rows);
        double[] dqHat = new double[rows * stride], dkHat = new double[rows * stride], dv = new double[rows * stride];
        double[] dBeta = new double[batch * heads]; // [B, H], summed over B in a fixed order below
        cpu.parallel().forRange(batch * heads, 1, (from, to) -> {
            for (int bh = from; bh < to; bh++) {
                int b = bh / heads, h = bh % heads, base = (b * tokens * heads + h) * headDim;
                dBeta[bh] = gradient.backward(s.heads[bh].copy(), s.folds.get(bh), tokens, s.beta[h], s.p.qHat,
                        s.p.kHat, s.p.v, dAtt, base, stride, dqHat, dkHat, dv);
            }
        });
        if (betaLog != null) {
            double[] g = betaLog.grad().data();
            for (int h = 0; h < heads; h++) {
                double sum = 0;
                for (int b = 0; b < batch; b++) sum += dBeta[b * heads + h];
                g[h] += s.beta[h] * sum; // beta = exp(b_h)
            }
        }
        double[] dq = normalizeBackward(dqHat, s.p.qRaw, s.p.qInv), dk = normalizeBackward(dkHat, s.p.kRaw, s.p.kInv);
        double[] dx = new double[rows * width];
        q.backward(mm, dx, dq, s.x, rows);
        k.backward(mm, dx, dk, s.x, rows);
        v.backward(mm, dx, dv, s.x, rows);
        return Tensor.wrap(dx, batch, tokens, width);
    }

    private OvqHead[] newHeads(int batch) {
        OvqHead[] states = new OvqHead[batch * heads];
        for (int i = 0; i < states.length; i++) states[i] = new OvqHead(spec, headDim);
        return states;
    }

    /** Per (sequence, head) the dictionary and the open chunk (section 5): constant size once the dictionary is full. */
    static final class State implements DecodeState {
        final int batch;
        final OvqHead[] heads; // [B * H]
        int position;

        State(int batch, OvqHead[] heads) {
            this.batch = batch;
            this.heads = heads;
        }

        @Override
        public int position() {
            return position;
        }

        @Override
        public long bytes(int bytesPerElement) {
            long total = 0;
            for (OvqHead h : heads) total += h.bytes(bytesPerElement);
            return total;
        }
    }

    @Override
    public DecodeState newDecodeState(int batch) {
        if (batch < 1) throw new IllegalArgumentException("batch: must be >= 1, got " + batch);
        return new State(batch, newHeads(batch));
    }

    @Override
    public Tensor decode(DecodeState decodeState, Tensor xt) {
        State st = Shapes.requireState(decodeState, State.class, "OVQ");
        Shapes.requireToken("xt", xt, st.batch, width);
        return prefill(st, xt.reshape(st.batch, 1, width)).reshape(st.batch, width);
    }

    @Override
    public Tensor prefill(DecodeState decodeState, Tensor x) {
        State st = Shapes.requireState(decodeState, State.class, "OVQ");
        Shapes.requireChunk("x", x, st.batch, width);
        int b = st.batch, tokens = x.dim(1), rows = b * tokens;
        Projected p = project(x.data(), rows);
        double[] att = run(st.heads, p, b, tokens, betas(), null);
        st.position += tokens;
        return Tensor.wrap(o.forward(cpu.matmul(), att, rows), b, tokens, width);
    }
}
