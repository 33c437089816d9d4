package org.ccalab.engine.attention;

import java.util.List;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.engine.tensor.Tensor;

/**
 * One attention layer of any variant with its parameters. Letters: B batch, T sequence length, E model
 * width. Inputs are already normalised by the block. Causal throughout.
 */
public interface AttentionLayer {
    AttentionConfig config();

    /** Every parameter, in a stable order, under its safetensors name. */
    List<Parameter> parameters();

    /** x [B, T, E] -> output [B, T, E]; the result keeps what {@link #backward} needs. */
    ForwardPass forward(Tensor x);

    /**
     * dy [B, T, E] -> dx [B, T, E]. ADDS each parameter's gradient into {@link Parameter#grad()} so that
     * callers can accumulate over micro-batches; zero them first for a fresh gradient.
     */
    Tensor backward(ForwardPass pass, Tensor dy);

    /**
     * The attention core without the projections, for timing it alone; every layer of this package has one
     * but OVQ, whose reads are not a softmax over a KV cache. Additive: a layer that cannot separate its core
     * answers empty and benchmarks time the whole layer.
     */
    default java.util.Optional<AttentionCore<?>> core() {
        return java.util.Optional.empty();
    }

    /** An empty decode state for {@code batch} sequences at position 0 (zero conv windows, empty caches). */
    DecodeState newDecodeState(int batch);

    /** One token per sequence: xt [B, E] at position {@code state.position()} -> yt [B, E]; advances the state. */
    Tensor decode(DecodeState state, Tensor xt);

    /**
     * A chunk of T tokens per sequence appended to the state (chunked prefill): x [B, T, E] at positions
     * {@code state.position()} .. + T - 1 -> y [B, T, E], exactly what T calls of {@link #decode} would give.
     * Layers override this to batch the projections; the default feeds the tokens one by one.
     */
    default Tensor prefill(DecodeState state, Tensor x) {
        int[] s = x.shape();
        if (s.length != 3) throw new IllegalArgumentException("x: expected shape [B, T, E], got " + java.util.Arrays.toString(s));
        int b = s[0], t = s[1], e = s[2];
        double[] y = new double[b * t * e];
        for (int step = 0; step < t; step++) {
            double[] xt = new double[b * e];
            for (int i = 0; i < b; i++) System.arraycopy(x.data(), (i * t + step) * e, xt, i * e, e);
            double[] yt = decode(state, Tensor.wrap(xt, b, e)).data();
            for (int i = 0; i < b; i++) System.arraycopy(yt, i * e, y, (i * t + step) * e, e);
        }
        return Tensor.wrap(y, b, t, e);
    }
}
