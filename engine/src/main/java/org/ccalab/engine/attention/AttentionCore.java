package org.ccalab.engine.attention;

import java.util.List;
import org.ccalab.engine.tensor.Tensor;

/**
 * The attention core of a layer without its input and output projections, so that a benchmark can time the
 * core alone (CORE scope). What the core covers per family: MHA/GQA the causal softmax attention over q, k, v
 * already projected and rotated; CCA/CCGQA the fused prologue (two-stage conv, q-k mean, value shift, norm
 * with temperature, partial RoPE) plus the latent attention, after the down-projections; MLA the attention over
 * the up-projected latent (q, k = [W_UK c ; k^R], v = W_UV c). Letters: B batch, T tokens, Hq query heads,
 * Dv value width.
 *
 * <p>The layer's own forward and backward run through the same core, so {@code project(forward(prepare(x)))}
 * is the layer's output bit for bit.
 *
 * @param <I> the core's inputs (and, from {@link #backward}, their gradients), as the layer lays them out
 */
public interface AttentionCore<I> {
    /** Runs the layer's input projections on x [B, T, E] once: the core's inputs. */
    I prepare(Tensor x);

    /** inputs -> output [B, T, Hq * Dv] (what the output projection reads); the pass keeps what backward needs. */
    ForwardPass forward(I inputs);

    /**
     * dOut [B, T, Hq * Dv] -> the gradients of the inputs, laid out as the inputs. Adds the gradients of the
     * parameters inside the core (CCA's convs and temperatures) to {@link Parameter#grad()}.
     */
    I backward(ForwardPass pass, Tensor dOut);

    /** The layer's output projection: out [B, T, Hq * Dv] -> y [B, T, E]. */
    Tensor project(Tensor out);

    /** The input buffers, in a fixed order (read for their sizes, rounded in place for storage-error runs). */
    List<double[]> buffers(I inputs);

    /** The shape of one decode step's attention over the cache (MLA: the absorbed form over the latent rows). */
    DecodeShape decodeShape();

    /** One query per sequence against a cache of Hkv heads: Dk per key row, Dv per value row, softmax scale. */
    record DecodeShape(int qHeads, int kvHeads, int qkDim, int vDim, double scale) {}
}
