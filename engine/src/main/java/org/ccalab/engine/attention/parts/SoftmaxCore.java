package org.ccalab.engine.attention.parts;

import java.util.List;
import java.util.function.Function;
import org.ccalab.engine.attention.AttentionCore;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.tensor.Tensor;

/**
 * The core of MHA, GQA and MLA: causal softmax attention over q, k, v that the layer has already projected
 * (and rotated). The layer supplies its projections and output projection; forward keeps the output and the
 * row log-sum-exp, which is all the kernel's backward needs besides the inputs.
 */
public final class SoftmaxCore implements AttentionCore<Qkv> {
    private final CpuBackend cpu;
    private final int qHeads, kvHeads, qkDim, vDim, width;
    private final double scale;
    private final int window;
    private final Function<Tensor, Qkv> projections;
    private final Linear o;
    private final DecodeShape decodeShape;

    /** {@code projections}: x [B, T, E] -> q, k, v; {@code o}: [E, Hq Dv]. */
    public SoftmaxCore(CpuBackend cpu, int qHeads, int kvHeads, int qkDim, int vDim, double scale,
                       Function<Tensor, Qkv> projections, Linear o, DecodeShape decodeShape) {
        this(cpu, qHeads, kvHeads, qkDim, vDim, scale, 0, projections, o, decodeShape);
    }

    /** As above with a causal sliding window: query t sees keys t - W < s <= t ({@code window} 0: all s <= t). */
    public SoftmaxCore(CpuBackend cpu, int qHeads, int kvHeads, int qkDim, int vDim, double scale, int window,
                       Function<Tensor, Qkv> projections, Linear o, DecodeShape decodeShape) {
        this.window = window;
        this.cpu = cpu;
        this.qHeads = qHeads;
        this.kvHeads = kvHeads;
        this.qkDim = qkDim;
        this.vDim = vDim;
        this.scale = scale;
        this.projections = projections;
        this.o = o;
        this.width = o.out();
        this.decodeShape = decodeShape;
    }

    private record Saved(Qkv in,
                         double[] lse) // [B, Hq, T]
    {}

    private AttentionKernel.Dims dims(int batch, int tokens) {
        return new AttentionKernel.Dims(batch, tokens, qHeads, kvHeads, qkDim, vDim, scale, true, window);
    }

    @Override
    public Qkv prepare(Tensor x) {
        return projections.apply(x);
    }

    @Override
    public ForwardPass forward(Qkv in) {
        int b = in.batch(), t = in.tokens();
        double[] att = new double[b * t * qHeads * vDim]; // [B, T, Hq, Dv]
        double[] lse = new double[b * qHeads * t];
        cpu.attention().forward(att, lse, in.q(), in.k(), in.v(), dims(b, t));
        return new ForwardPass(Tensor.wrap(att, b, t, qHeads * vDim), new Saved(in, lse));
    }

    @Override
    public Qkv backward(ForwardPass pass, Tensor dOut) {
        Saved s = Shapes.requireState(pass.saved(), Saved.class, "softmax core");
        Qkv in = s.in;
        Shapes.requireSequence("dOut", dOut, qHeads * vDim);
        double[] dq = new double[in.q().length], dk = new double[in.k().length], dv = new double[in.v().length];
        cpu.attention().backward(dq, dk, dv, dOut.data(), in.q(), in.k(), in.v(), pass.output().data(), s.lse,
                dims(in.batch(), in.tokens()));
        return new Qkv(in.batch(), in.tokens(), dq, dk, dv);
    }

    @Override
    public Tensor project(Tensor out) {
        Shapes.requireSequence("out", out, qHeads * vDim);
        int b = out.dim(0), t = out.dim(1);
        return Tensor.wrap(o.forward(cpu.matmul(), out.data(), b * t), b, t, width);
    }

    @Override
    public List<double[]> buffers(Qkv inputs) {
        return inputs.buffers();
    }

    @Override
    public DecodeShape decodeShape() {
        return decodeShape;
    }
}
