package org.ccalab.engine.attention.cca;

import java.util.List;
import java.util.Optional;
import java.util.random.RandomGenerator;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.engine.attention.AttentionCore;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.DecodeState;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.attention.parts.Init;
import org.ccalab.engine.attention.parts.KvCache;
import org.ccalab.engine.attention.parts.Linear;
import org.ccalab.engine.attention.parts.Shapes;
import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.backend.cpu.Rope;
import org.ccalab.engine.tensor.Tensor;

/**
 * CCA and CCGQA exactly as cca.md sections 2-4 define them (CCA is the case Hq = Hkv). Letters: B batch,
 * T tokens, E width, Hq / Hkv latent query / KV heads of D channels, G = Hq / Hkv, Dq = Hq D, Dk = Hkv D,
 * C = Dq + Dk packed q||k channels, P = (k0 - 1) + (k1 - 1).
 *
 * <p>Parameters under the ZAYA1 names, PyTorch layouts, no biases on linears: {@code q_proj.weight} [Dq, E],
 * {@code k_proj.weight} [Dk, E], {@code v_proj_current.weight} [Dk - Dk/2, E], {@code v_proj_delayed.weight}
 * [Dk/2, E], {@code conv_qk_depthwise.weight} [C, 1, k0] / {@code .bias} [C], {@code conv_qk_grouped.weight}
 * [C, D, k1] / {@code .bias} [C], {@code temp} [Hkv], {@code o_proj.weight} [E, Dq]. With the value shift
 * off, both value halves read the current token (the ablation keeps the parameters).
 *
 * <p>Steps 1-7 (projection, two-stage conv, q-k mean, value shift, norm with temperature, partial RoPE) run
 * in {@link #latent} for T tokens that follow a conv prefix of P raw columns and a delayed value: zeros in
 * prefill, the decode state in decode. That is the spec's chunked-prefill form, so decode and prefill share
 * every line of the latent math and only the attention over the cache differs.
 */
public final class CompressedConvAttention implements AttentionLayer {
    private final AttentionConfig config;
    private final int width, qHeads, kvHeads, headDim, group, qWidth, kvWidth, packed, pad, delayedWidth;
    private final boolean qkMean, valueShift;
    private final double eps, sqrtD;
    private final KeyTemperature temperatureMode;
    private final CpuBackend cpu;
    private final Rope rope;
    private final Linear q, k, vCurrent, vDelayed, o;
    private final DepthwiseConv conv0;
    private final GroupedConv conv1;
    private final Parameter temp; // [Hkv] theta
    private final Core core = new Core();

    public CompressedConvAttention(AttentionConfig config, CcgqaConfig shape, CpuBackend cpu, RandomGenerator rng) {
        this.config = config;
        this.cpu = cpu;
        this.width = shape.dModel();
        this.qHeads = shape.nQHeads();
        this.kvHeads = shape.nKvHeads();
        this.headDim = shape.headDim();
        this.group = shape.groupSize();
        this.qWidth = shape.queryWidth();
        this.kvWidth = shape.kvWidth();
        this.packed = shape.packedWidth();
        this.pad = shape.conv().convStateLength();
        this.delayedWidth = kvWidth / 2;
        this.qkMean = shape.conv().qkMean();
        this.valueShift = shape.conv().valueShift();
        this.eps = shape.conv().normEps();
        this.sqrtD = Math.sqrt(headDim);
        this.temperatureMode = shape.conv().keyTemperature();
        this.rope = new Rope(shape.conv().rope().rotaryDims(headDim), shape.conv().rope().base());
        int k0 = shape.conv().convSeqKernel(), k1 = shape.conv().convChannelKernel();
        this.q = new Linear(Init.linear("q_proj.weight", rng, qWidth, width));
        this.k = new Linear(Init.linear("k_proj.weight", rng, kvWidth, width));
        this.vCurrent = new Linear(Init.linear("v_proj_current.weight", rng, kvWidth - delayedWidth, width));
        this.vDelayed = new Linear(Init.linear("v_proj_delayed.weight", rng, delayedWidth, width));
        double b0 = 1 / Math.sqrt(k0), b1 = 1 / Math.sqrt(headDim * k1);
        this.conv0 = new DepthwiseConv(Init.uniform("conv_qk_depthwise.weight", rng, b0, packed, 1, k0),
                Init.uniform("conv_qk_depthwise.bias", rng, b0, packed));
        this.conv1 = new GroupedConv(Init.uniform("conv_qk_grouped.weight", rng, b1, packed, headDim, k1),
                Init.uniform("conv_qk_grouped.bias", rng, b1, packed));
        this.temp = Init.constant("temp", KeyTemperatureFn.initial(temperatureMode), kvHeads);
        this.o = new Linear(Init.linear("o_proj.weight", rng, width, qWidth));
    }

    @Override
    public AttentionConfig config() {
        return config;
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(q.weight(), k.weight(), vCurrent.weight(), vDelayed.weight(), conv0.weight(), conv0.bias(),
                conv1.weight(), conv1.bias(), temp, o.weight());
    }

    /** Everything steps 1-7 produce for T tokens, kept for backward and for advancing the decode state. */
    private record Latent(int batch, int tokens, int pos0,
                          double[] zpad,     // [B, P + T, C] prefix then raw packed projections [W_q x; W_k x]
                          double[] u,        // [B, T + k1 - 1, C] stage-1 output
                          double[] qTilde,   // [B, T, Hq, D] conv output + q-k mean, before the norm
                          double[] kTilde,   // [B, T, Hkv, D]
                          double[] qInv,     // [B, T, Hq] 1 / sqrt(|q~|^2 + eps)
                          double[] kInv,     // [B, T, Hkv]
                          double[] beta,     // [Hkv]
                          double[] qHat,     // [B, T, Hq, D] sqrt(D) q~/|q~|, then RoPE
                          double[] kHat,     // [B, T, Hkv, D] beta sqrt(D) k~/|k~|, then RoPE
                          double[] v,        // [B, T, Hkv, D] = [W_vc x_t ; W_vd x_{t-1}]
                          double[] delayed)  // [B, T, Dk/2] W_vd x_t: the next token's delayed value
    {}

    /**
     * The down-projections of x [B, T, E], the core's inputs (or their gradients): step 1 and the two value
     * projections of step 5.
     */
    record Projected(int batch, int tokens,
                     double[] zq,       // [B, T, Dq] W_q x
                     double[] zk,       // [B, T, Dk] W_k x
                     double[] cur,      // [B, T, Dk - Dk/2] W_vc x
                     double[] delayed)  // [B, T, Dk/2] W_vd x
    {}

    private Projected projectDown(double[] x, int batch, int tokens) {
        int rows = batch * tokens;
        var mm = cpu.matmul();
        return new Projected(batch, tokens, q.forward(mm, x, rows), k.forward(mm, x, rows),
                vCurrent.forward(mm, x, rows), vDelayed.forward(mm, x, rows));
    }

    /** Steps 1-7 for x [B, T, E]: the projections, then the prologue. */
    private Latent latent(double[] x, int batch, int tokens, double[] prefix, double[] prevDelayed, int pos0) {
        return prologue(projectDown(x, batch, tokens), prefix, prevDelayed, pos0);
    }

    /**
     * Steps 2-7 on the projections of T tokens: {@code prefix} [B, P, C] raw projections before the first
     * token (zeros at sequence start), {@code prevDelayed} [B, Dk/2] = W_vd x_{-1}, positions pos0 .. pos0 + T - 1.
     */
    private Latent prologue(Projected in, double[] prefix, double[] prevDelayed, int pos0) {
        int batch = in.batch(), tokens = in.tokens();
        int rows = batch * tokens, padded = pad + tokens;
        var mm = cpu.matmul();
        // 1. The down-projections packed into the latent, queries first, after the conv prefix.
        double[] zq = in.zq(), zk = in.zk();
        double[] zpad = new double[batch * padded * packed];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(prefix, b * pad * packed, zpad, b * padded * packed, pad * packed);
            for (int t = 0; t < tokens; t++) {
                int zi = (b * padded + pad + t) * packed, r = b * tokens + t;
                System.arraycopy(zq, r * qWidth, zpad, zi, qWidth);
                System.arraycopy(zk, r * kvWidth, zpad, zi + qWidth, kvWidth);
            }
        }
        // 2-3. Two-stage causal conv on the once-padded input.
        int uLen = tokens + conv1.width() - 1;
        double[] u = conv0.forward(cpu.parallel(), zpad, batch, uLen);
        double[] s = conv1.forward(mm, u, batch, tokens);
        // 4. q-k mean from the pre-conv projections of the same position.
        double[] qTilde = new double[rows * qWidth], kTilde = new double[rows * kvWidth];
        for (int r = 0; r < rows; r++) {
            int b = r / tokens, t = r % tokens;
            int si = r * packed, zi = (b * padded + pad + t) * packed;
            for (int h = 0; h < qHeads; h++) {
                int j = h / group;
                for (int c = 0; c < headDim; c++) {
                    double mean = qkMean ? 0.5 * (zpad[zi + h * headDim + c] + zpad[zi + qWidth + j * headDim + c]) : 0;
                    qTilde[r * qWidth + h * headDim + c] = s[si + h * headDim + c] + mean;
                }
            }
            for (int j = 0; j < kvHeads; j++)
                for (int c = 0; c < headDim; c++) {
                    double mean = 0;
                    if (qkMean) {
                        double qSum = 0;
                        for (int h = j * group; h < (j + 1) * group; h++) qSum += zpad[zi + h * headDim + c];
                        mean = 0.5 * (qSum / group + zpad[zi + qWidth + j * headDim + c]);
                    }
                    kTilde[r * kvWidth + j * headDim + c] = s[si + qWidth + j * headDim + c] + mean;
                }
        }
        // 5. Value shift: second half of the value latent from the previous token.
        double[] cur = in.cur(), delayed = in.delayed();
        int curWidth = kvWidth - delayedWidth;
        double[] v = new double[rows * kvWidth];
        for (int r = 0; r < rows; r++) {
            int b = r / tokens, t = r % tokens;
            System.arraycopy(cur, r * curWidth, v, r * kvWidth, curWidth);
            if (!valueShift) System.arraycopy(delayed, r * delayedWidth, v, r * kvWidth + curWidth, delayedWidth);
            else if (t == 0) System.arraycopy(prevDelayed, b * delayedWidth, v, r * kvWidth + curWidth, delayedWidth);
            else System.arraycopy(delayed, (r - 1) * delayedWidth, v, r * kvWidth + curWidth, delayedWidth);
        }
        // 6. L2 norm to sqrt(D) with eps on the squared norm; keys scaled by beta of their KV head.
        double[] beta = new double[kvHeads];
        for (int j = 0; j < kvHeads; j++) beta[j] = KeyTemperatureFn.beta(temperatureMode, temp.value().data()[j]);
        double[] qInv = new double[rows * qHeads], kInv = new double[rows * kvHeads];
        double[] qHat = normalize(qTilde, qInv, rows * qHeads, null);
        double[] kHat = normalize(kTilde, kInv, rows * kvHeads, beta);
        // 7. Partial rotate-half RoPE at absolute positions.
        rope.apply(qHat, batch, tokens, pos0, qHeads, headDim, 0, false);
        rope.apply(kHat, batch, tokens, pos0, kvHeads, headDim, 0, false);
        return new Latent(batch, tokens, pos0, zpad, u, qTilde, kTilde, qInv, kInv, beta, qHat, kHat, v, delayed);
    }

    /** Rows of D: y = scale * sqrt(D) x / sqrt(|x|^2 + eps); scale = beta of the row's head when given. */
    private double[] normalize(double[] x, double[] inv, int nRows, double[] beta) {
        double[] y = new double[x.length];
        for (int r = 0; r < nRows; r++) {
            double ss = 0;
            for (int c = 0; c < headDim; c++) ss += x[r * headDim + c] * x[r * headDim + c];
            inv[r] = 1 / Math.sqrt(ss + eps);
            double f = sqrtD * inv[r] * (beta == null ? 1 : beta[r % kvHeads]);
            for (int c = 0; c < headDim; c++) y[r * headDim + c] = f * x[r * headDim + c];
        }
        return y;
    }

    /** What backward needs: the input and the core's pass. */
    private record Saved(double[] x, // [B, T, E]
                         ForwardPass core)
    {}

    /** The core's saved state: the prologue's activations and the attention's row log-sum-exp. */
    private record CoreSaved(Latent latent,
                             double[] lse)  // [B, Hq, T]
    {}

    private AttentionKernel.Dims dims(int batch, int tokens) {
        return new AttentionKernel.Dims(batch, tokens, qHeads, kvHeads, headDim, headDim, 1 / sqrtD, true);
    }

    @Override
    public Optional<AttentionCore<?>> core() {
        return Optional.of(core);
    }

    @Override
    public ForwardPass forward(Tensor input) {
        Shapes.requireSequence("x", input, width);
        double[] x = input.data().clone();
        ForwardPass att = core.forward(projectDown(x, input.dim(0), input.dim(1)));
        // 9. Up-projection.
        return new ForwardPass(core.project(att.output()), new Saved(x, att));
    }

    @Override
    public Tensor backward(ForwardPass pass, Tensor dyT) {
        Saved saved = Shapes.requireState(pass.saved(), Saved.class, "CCA");
        Shapes.requireSequence("dy", dyT, width);
        Tensor att = saved.core.output();
        int batch = att.dim(0), tokens = att.dim(1), rows = batch * tokens;
        var mm = cpu.matmul();
        // 9: through the up-projection; 8-2 in the core; 1 and 5's projections here.
        double[] dAtt = new double[rows * qWidth];
        o.backward(mm, dAtt, dyT.data(), att.data(), rows);
        Projected g = core.backward(saved.core, Tensor.wrap(dAtt, batch, tokens, qWidth));
        double[] dx = new double[rows * width];
        vCurrent.backward(mm, dx, g.cur(), saved.x, rows);
        vDelayed.backward(mm, dx, g.delayed(), saved.x, rows);
        q.backward(mm, dx, g.zq(), saved.x, rows);
        k.backward(mm, dx, g.zk(), saved.x, rows);
        return Tensor.wrap(dx, batch, tokens, width);
    }

    /** cca.md steps 2-8 over the down-projections: the fused prologue and the latent attention. */
    private final class Core implements AttentionCore<Projected> {
        @Override
        public Projected prepare(Tensor x) {
            Shapes.requireSequence("x", x, width);
            return projectDown(x.data(), x.dim(0), x.dim(1));
        }

        @Override
        public ForwardPass forward(Projected in) {
            int batch = in.batch(), tokens = in.tokens(), rows = batch * tokens;
            Latent lat = prologue(in, new double[batch * pad * packed], new double[batch * delayedWidth], 0);
            // 8. Causal GQA attention in the latent.
            double[] att = new double[rows * qWidth], lse = new double[batch * qHeads * tokens]; // [B, T, Hq, D], [B, Hq, T]
            cpu.attention().forward(att, lse, lat.qHat, lat.kHat, lat.v, dims(batch, tokens));
            return new ForwardPass(Tensor.wrap(att, batch, tokens, qWidth), new CoreSaved(lat, lse));
        }

        @Override
        public Projected backward(ForwardPass pass, Tensor dOut) {
            CoreSaved saved = Shapes.requireState(pass.saved(), CoreSaved.class, "CCA core");
            Shapes.requireSequence("dOut", dOut, qWidth);
            Latent l = saved.latent;
            int batch = l.batch, tokens = l.tokens, rows = batch * tokens, padded = pad + tokens;
            var mm = cpu.matmul();
            // 8: the attention core.
            double[] dqHat = new double[l.qHat.length], dkHat = new double[l.kHat.length], dv = new double[l.v.length];
            cpu.attention().backward(dqHat, dkHat, dv, dOut.data(), l.qHat, l.kHat, l.v, pass.output().data(), saved.lse,
                    dims(batch, tokens));
            // 5: value halves; the delayed half of token t came from x_{t-1}.
            int curWidth = kvWidth - delayedWidth;
            double[] dCur = new double[rows * curWidth], dDelayed = new double[rows * delayedWidth];
            for (int r = 0; r < rows; r++) {
                int t = r % tokens;
                System.arraycopy(dv, r * kvWidth, dCur, r * curWidth, curWidth);
                if (!valueShift) System.arraycopy(dv, r * kvWidth + curWidth, dDelayed, r * delayedWidth, delayedWidth);
                else if (t + 1 < tokens) System.arraycopy(dv, (r + 1) * kvWidth + curWidth, dDelayed, r * delayedWidth, delayedWidth);
            }
            // 7: RoPE is orthogonal; its gradient is the inverse rotation.
            rope.apply(dqHat, batch, tokens, l.pos0, qHeads, headDim, 0, true);
            rope.apply(dkHat, batch, tokens, l.pos0, kvHeads, headDim, 0, true);
            // 6: norm and temperature.
            double[] dqTilde = normalizeBackward(dqHat, l.qTilde, l.qInv, rows * qHeads, null, null);
            double[] dBeta = new double[kvHeads];
            double[] dkTilde = normalizeBackward(dkHat, l.kTilde, l.kInv, rows * kvHeads, l.beta, dBeta);
            for (int j = 0; j < kvHeads; j++)
                temp.grad().data()[j] += dBeta[j] * KeyTemperatureFn.derivative(temperatureMode, temp.value().data()[j]);
            // 4: conv outputs take dq~, dk~ as they are; the q-k mean sends its share to the raw projections.
            double[] ds = new double[rows * packed], dz = new double[rows * packed]; // [B, T, C]
            for (int r = 0; r < rows; r++) {
                System.arraycopy(dqTilde, r * qWidth, ds, r * packed, qWidth);
                System.arraycopy(dkTilde, r * kvWidth, ds, r * packed + qWidth, kvWidth);
                if (!qkMean) continue;
                for (int h = 0; h < qHeads; h++) {
                    int j = h / group;
                    for (int c = 0; c < headDim; c++) {
                        double gq = dqTilde[r * qWidth + h * headDim + c], gk = dkTilde[r * kvWidth + j * headDim + c];
                        dz[r * packed + h * headDim + c] += 0.5 * gq + gk / (2.0 * group);
                        dz[r * packed + qWidth + j * headDim + c] += 0.5 * gq;
                    }
                }
                for (int j = 0; j < kvHeads; j++)
                    for (int c = 0; c < headDim; c++)
                        dz[r * packed + qWidth + j * headDim + c] += 0.5 * dkTilde[r * kvWidth + j * headDim + c];
            }
            // 3, 2: the two convs, back to the padded raw projections.
            int uLen = tokens + conv1.width() - 1;
            double[] du = new double[l.u.length], dzpad = new double[l.zpad.length];
            conv1.backward(mm, du, ds, l.u, batch, tokens);
            conv0.backward(cpu.parallel(), dzpad, du, l.zpad, batch, uLen);
            // 1: the padding rows are constants; the rest joins the q-k mean gradient.
            double[] dzq = new double[rows * qWidth], dzk = new double[rows * kvWidth];
            for (int r = 0; r < rows; r++) {
                int b = r / tokens, t = r % tokens, zi = (b * padded + pad + t) * packed;
                for (int c = 0; c < qWidth; c++) dzq[r * qWidth + c] = dz[r * packed + c] + dzpad[zi + c];
                for (int c = 0; c < kvWidth; c++) dzk[r * kvWidth + c] = dz[r * packed + qWidth + c] + dzpad[zi + qWidth + c];
            }
            return new Projected(batch, tokens, dzq, dzk, dCur, dDelayed);
        }

        @Override
        public Tensor project(Tensor out) {
            Shapes.requireSequence("out", out, qWidth);
            int b = out.dim(0), t = out.dim(1);
            return Tensor.wrap(o.forward(cpu.matmul(), out.data(), b * t), b, t, width);
        }

        @Override
        public List<double[]> buffers(Projected in) {
            return List.of(in.zq(), in.zk(), in.cur(), in.delayed());
        }

        @Override
        public DecodeShape decodeShape() {
            return new DecodeShape(qHeads, kvHeads, headDim, headDim, 1 / sqrtD);
        }
    }

    /**
     * For y = f sqrt(D) x r, r = (|x|^2 + eps)^(-1/2): dx = f sqrt(D) r (dy - x r^2 (x . dy)); with beta,
     * d beta_j accumulates dy . (sqrt(D) x r), the derivative through the scale alone.
     */
    private double[] normalizeBackward(double[] dy, double[] x, double[] inv, int nRows, double[] beta, double[] dBeta) {
        double[] dx = new double[x.length];
        for (int r = 0; r < nRows; r++) {
            int off = r * headDim;
            double dot = 0;
            for (int c = 0; c < headDim; c++) dot += x[off + c] * dy[off + c];
            double ir = inv[r], f = beta == null ? 1 : beta[r % kvHeads];
            if (dBeta != null) dBeta[r % kvHeads] += sqrtD * ir * dot;
            for (int c = 0; c < headDim; c++)
                dx[off + c] = f * sqrtD * ir * (dy[off + c] - x[off + c] * ir * ir * dot);
        }
        return dx;
    }

    /**
     * cca.md section 3: the conv window of the last P raw packed projections, the delayed value projection
     * of the previous token, and the KV cache of post-RoPE keys and values.
     */
    static final class State implements DecodeState {
        final int batch;
        double[] window;     // [B, P, C], oldest first
        double[] delayed;    // [B, Dk/2] W_vd x_{t-1}
        final boolean shift;
        final KvCache cache;

        State(int batch, int pad, int packed, int delayedWidth, int kvHeads, int headDim, boolean shift) {
            this.batch = batch;
            this.window = new double[batch * pad * packed];
            this.delayed = new double[batch * delayedWidth];
            this.shift = shift;
            this.cache = new KvCache(batch, kvHeads, headDim, headDim);
        }

        @Override
        public int position() {
            return cache.length();
        }

        @Override
        public long bytes(int bytesPerElement) {
            return cache.bytes(bytesPerElement) + (long) (window.length + (shift ? delayed.length : 0)) * bytesPerElement;
        }
    }

    @Override
    public DecodeState newDecodeState(int batch) {
        if (batch < 1) throw new IllegalArgumentException("batch: must be >= 1, got " + batch);
        return new State(batch, pad, packed, delayedWidth, kvHeads, headDim, valueShift);
    }

    @Override
    public Tensor decode(DecodeState decodeState, Tensor xt) {
        State st = Shapes.requireState(decodeState, State.class, "CCA");
        Shapes.requireToken("xt", xt, st.batch, width);
        return prefill(st, xt.reshape(st.batch, 1, width)).reshape(st.batch, width);
    }

    /** cca.md section 3's chunked prefill: the conv window stands in for the zero padding. */
    @Override
    public Tensor prefill(DecodeState decodeState, Tensor x) {
        State st = Shapes.requireState(decodeState, State.class, "CCA");
        Shapes.requireChunk("x", x, st.batch, width);
        int b = st.batch, tokens = x.dim(1), rows = b * tokens;
        Latent lat = latent(x.data().clone(), b, tokens, st.window, st.delayed, st.position());
        st.cache.append(lat.kHat, lat.v, tokens);
        double[] att = new double[rows * qWidth]; // [B, T, Hq, D]
        cpu.attention().decodeChunk(att, lat.qHat, tokens, st.cache.keys(), st.cache.values(), st.cache.capacity(),
                st.cache.length(), b, qHeads, kvHeads, headDim, headDim, 1 / sqrtD);
        // Window <- the last P raw columns of [window ; chunk]; delayed value <- W_vd x of the chunk's last token.
        double[] window = new double[st.window.length], delayed = new double[st.delayed.length];
        for (int i = 0; i < b; i++) {
            System.arraycopy(lat.zpad, (i * (pad + tokens) + tokens) * packed, window, i * pad * packed, pad * packed);
            System.arraycopy(lat.delayed, ((i + 1) * tokens - 1) * delayedWidth, delayed, i * delayedWidth, delayedWidth);
        }
        st.window = window;
        st.delayed = delayed;
        return Tensor.wrap(o.forward(cpu.matmul(), att, rows), b, tokens, width);
    }
}
