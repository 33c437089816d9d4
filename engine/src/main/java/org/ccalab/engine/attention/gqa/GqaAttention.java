package org.ccalab.engine.attention.gqa;

import java.util.List;
import java.util.Optional;
import java.util.random.RandomGenerator;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.GqaConfig;
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
import org.ccalab.engine.attention.parts.WindowKvCache;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.backend.cpu.Rope;
import org.ccalab.engine.tensor.Tensor;

/**
 * Causal grouped-query attention with RoPE on the first {@code rope.fraction} of each head (rotate-half).
 * One code path for MHA (Hkv = H), GQA and MQA (Hkv = 1). Parameters, PyTorch layout, no biases:
 * {@code q_proj.weight} [H*D, E], {@code k_proj.weight} [Hkv*D, E], {@code v_proj.weight} [Hkv*D, E],
 * {@code o_proj.weight} [E, H*D]. Softmax scale 1/sqrt(D).
 *
 * <p>With a window W > 0 it is sliding-window attention (the SWA layers of OVQ hybrids, ovq.md section 4):
 * query t sees keys t - W < s <= t, and decode keeps only the last W keys and values in a ring
 * ({@link WindowKvCache}), so its state stops growing at W tokens. RoPE is applied at absolute positions
 * either way; only differences of positions reach the scores. The {@link #core()} honours the window in
 * forward and backward; its {@code decodeShape} (used by CORE decode benchmarks, which only time a family's own
 * layer, never an SWA block) describes one query over a cache and does not carry the window.
 */
public final class GqaAttention implements AttentionLayer {
    private final AttentionConfig config;
    private final int width, heads, kvHeads, headDim, window;
    private final CpuBackend cpu;
    private final Rope rope;
    private final Linear q, k, v, o;
    private final SoftmaxCore core;

    /** {@code config} is what {@link #config()} reports (an MhaConfig stays one); {@code shape} its GQA form. */
    public GqaAttention(AttentionConfig config, GqaConfig shape, CpuBackend cpu, RandomGenerator rng) {
        this(config, shape, 0, cpu, rng);
    }

    /** {@code window} W > 0: sliding-window attention over the last W positions; 0: plain causal attention. */
    public GqaAttention(AttentionConfig config, GqaConfig shape, int window, CpuBackend cpu, RandomGenerator rng) {
        if (window < 0) throw new IllegalArgumentException("window must be >= 0, got " + window);
        this.window = window;
        this.config = config;
        this.cpu = cpu;
        this.width = shape.dModel();
        this.heads = shape.nHeads();
        this.kvHeads = shape.nKvHeads();
        this.headDim = shape.headDim();
        this.rope = new Rope(shape.rope().rotaryDims(headDim), shape.rope().base());
        this.q = new Linear(Init.linear("q_proj.weight", rng, heads * headDim, width));
        this.k = new Linear(Init.linear("k_proj.weight", rng, kvHeads * headDim, width));
        this.v = new Linear(Init.linear("v_proj.weight", rng, kvHeads * headDim, width));
        this.o = new Linear(Init.linear("o_proj.weight", rng, width, heads * headDim));
        double scale = 1.0 / Math.sqrt(headDim);
        this.core = new SoftmaxCore(cpu, heads, kvHeads, headDim, headDim, scale, window, this::project, o,
                new AttentionCore.DecodeShape(heads, kvHeads, headDim, headDim, scale));
    }

    @Override
    public AttentionConfig config() {
        return config;
    }

    /** W: the keys each query sees (0: all earlier ones). */
    public int window() {
        return window;
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(q.weight(), k.weight(), v.weight(), o.weight());
    }

    /** What backward needs: the input and the core's pass (post-RoPE q, k, v, its output and row log-sum-exp). */
    private record Saved(double[] x, // [B, T, E]
                         ForwardPass core)
    {}

    @Override
    public Optional<AttentionCore<?>> core() {
        return Optional.of(core);
    }

    /** Step 1 of forward: x [B, T, E] -> q [B, T, H, D], k, v [B, T, Hkv, D], q and k rotated at positions 0.. */
    private Qkv project(Tensor input) {
        Shapes.requireSequence("x", input, width);
        int batch = input.dim(0), tokens = input.dim(1), rows = batch * tokens;
        double[] x = input.data();
        var mm = cpu.matmul();
        double[] qr = q.forward(mm, x, rows), kr = k.forward(mm, x, rows), vv = v.forward(mm, x, rows);
        rope.apply(qr, batch, tokens, 0, heads, headDim, 0, false);
        rope.apply(kr, batch, tokens, 0, kvHeads, headDim, 0, false);
        return new Qkv(batch, tokens, qr, kr, vv);
    }

    @Override
    public ForwardPass forward(Tensor input) {
        Qkv in = project(input);
        ForwardPass att = core.forward(in);
        Tensor y = core.project(att.output());
        return new ForwardPass(y, new Saved(input.data().clone(), att));
    }

    @Override
    public Tensor backward(ForwardPass pass, Tensor dyT) {
        Saved s = Shapes.requireState(pass.saved(), Saved.class, "GQA");
        Shapes.requireSequence("dy", dyT, width);
        Tensor att = s.core.output();
        int batch = att.dim(0), tokens = att.dim(1), rows = batch * tokens;
        var mm = cpu.matmul();
        double[] dAtt = new double[rows * heads * headDim]; // [B, T, H, D]
        o.backward(mm, dAtt, dyT.data(), att.data(), rows);
        Qkv g = core.backward(s.core, Tensor.wrap(dAtt, batch, tokens, heads * headDim));
        rope.apply(g.q(), batch, tokens, 0, heads, headDim, 0, true);
        rope.apply(g.k(), batch, tokens, 0, kvHeads, headDim, 0, true);
        double[] dx = new double[rows * width];
        q.backward(mm, dx, g.q(), s.x, rows);
        k.backward(mm, dx, g.k(), s.x, rows);
        v.backward(mm, dx, g.v(), s.x, rows);
        return Tensor.wrap(dx, batch, tokens, width);
    }

    /** K and V of every consumed token, post-RoPE: Hkv * 2D values per token. */
    static final class State implements DecodeState {
        final int batch;
        final KvCache cache;

        State(int batch, int kvHeads, int headDim) {
            this.batch = batch;
            this.cache = new KvCache(batch, kvHeads, headDim, headDim);
        }

        @Override
        public int position() {
            return cache.length();
        }

        @Override
        public long bytes(int bytesPerElement) {
            return cache.bytes(bytesPerElement);
        }
    }

    /** K and V of the last W consumed tokens, post-RoPE: at most W * Hkv * 2D values per sequence. */
    static final class WindowState implements DecodeState {
        final int batch;
        final WindowKvCache cache;

        WindowState(int batch, int kvHeads, int headDim, int window) {
            this.batch = batch;
            this.cache = new WindowKvCache(batch, kvHeads, headDim, headDim, window);
        }

        @Override
        public int position() {
            return cache.position();
        }

        @Override
        public long bytes(int bytesPerElement) {
            return cache.bytes(bytesPerElement);
        }
    }

    @Override
    public DecodeState newDecodeState(int batch) {
        if (batch < 1) throw new IllegalArgumentException("batch: must be >= 1, got " + batch);
        return window > 0 ? new WindowState(batch, kvHeads, headDim, window) : new State(batch, kvHeads, headDim);
    }

    @Override
    public Tensor decode(DecodeState decodeState, Tensor xt) {
        int batch = window > 0 ? windowState(decodeState).batch : Shapes.requireState(decodeState, State.class, "GQA").batch;
        Shapes.requireToken("xt", xt, batch, width);
        return prefill(decodeState, xt.reshape(batch, 1, width)).reshape(batch, width);
    }

    private WindowState windowState(DecodeState decodeState) {
        return Shapes.requireState(decodeState, WindowState.class, "sliding-window GQA");
    }

    /** q [B, T, H, D] and k [B, T, Hkv, D] rotated at positions pos.., and v [B, T, Hkv, D], for T tokens of x. */
    private Qkv projectAt(Tensor x, int pos) {
        int b = x.dim(0), tokens = x.dim(1), rows = b * tokens;
        var mm = cpu.matmul();
        double[] qr = q.forward(mm, x.data(), rows), kr = k.forward(mm, x.data(), rows), vv = v.forward(mm, x.data(), rows);
        rope.apply(qr, b, tokens, pos, heads, headDim, 0, false);
        rope.apply(kr, b, tokens, pos, kvHeads, headDim, 0, false);
        return new Qkv(b, tokens, qr, kr, vv);
    }

    @Override
    public Tensor prefill(DecodeState decodeState, Tensor x) {
        if (window > 0) return prefillWindow(windowState(decodeState), x);
        State st = Shapes.requireState(decodeState, State.class, "GQA");
        Shapes.requireChunk("x", x, st.batch, width);
        int b = st.batch, tokens = x.dim(1), rows = b * tokens;
        Qkv in = projectAt(x, st.position());
        st.cache.append(in.k(), in.v(), tokens);
        double[] att = new double[rows * heads * headDim]; // [B, T, H, D]
        cpu.attention().decodeChunk(att, in.q(), tokens, st.cache.keys(), st.cache.values(), st.cache.capacity(),
                st.cache.length(), b, heads, kvHeads, headDim, headDim, 1.0 / Math.sqrt(headDim));
        return Tensor.wrap(o.forward(cpu.matmul(), att, rows), b, tokens, width);
    }

    /**
     * One token reads the ring in place (its W live rows are exactly its window); a longer chunk reads the last
     * W - 1 cached rows followed by its own, copied in order, through the windowed chunk kernel.
     */
    private Tensor prefillWindow(WindowState st, Tensor x) {
        Shapes.requireChunk("x", x, st.batch, width);
        int b = st.batch, tokens = x.dim(1), rows = b * tokens;
        double scale = 1.0 / Math.sqrt(headDim);
        Qkv in = projectAt(x, st.position());
        double[] att = new double[rows * heads * headDim]; // [B, T, H, D]
        if (tokens == 1) {
            st.cache.append(in.k(), in.v(), 1);
            cpu.attention().decode(att, in.q(), st.cache.keys(), st.cache.values(), st.cache.capacity(),
                    st.cache.length(), b, heads, kvHeads, headDim, headDim, scale);
        } else {
            WindowKvCache.Rows keys = st.cache.withChunk(in.k(), in.v(), tokens);
            cpu.attention().decodeChunk(att, in.q(), tokens, keys.k(), keys.v(), keys.rows(), keys.rows(), b, heads,
                    kvHeads, headDim, headDim, scale, window);
            st.cache.append(in.k(), in.v(), tokens);
        }
        return Tensor.wrap(o.forward(cpu.matmul(), att, rows), b, tokens, width);
    }
}
