package org.ccalab.engine.backend.cuda;

import java.util.List;
import org.ccalab.common.variant.OvqConfig;

/**
 * OVQ's attention layer on the GPU, as {@link org.ccalab.engine.attention.ovq.OvqAttention} computes it: q, k, v
 * projections (cuBLAS, bf16 with fp32 accumulation), q and k L2-normalised per head, the core ({@link CudaOvq})
 * through each sequence's dictionary, the output projection. Weights in the PyTorch layout of the CPU layer's
 * parameters: {@code q_proj}, {@code k_proj}, {@code v_proj} [H*D, E], {@code o_proj} [E, H*D]; beta [H] (exp of
 * {@code beta_log}, or sqrt(D) when fixed). Forward only: the core's backward exists ({@link CudaOvq#backward}),
 * the layer's (projections, the q/k norm, beta) does not yet.
 */
public final class CudaOvqLayer implements AutoCloseable {
    private final CudaBackend cuda;
    private final CudaOvq core;
    private final int width, heads, headDim;
    private final DeviceBuffer wq, wk, wv, wo, beta;
    private final DeviceBuffer[] scratch = new DeviceBuffer[4]; // q, k, v, att of the last forward's size

    /** Weights as bf16 (row-major, the shapes above) and beta as fp32. */
    public CudaOvqLayer(CudaBackend cuda, OvqConfig config, short[] wq, short[] wk, short[] wv, short[] wo, float[] beta) {
        this.width = config.dModel();
        this.heads = config.nHeads();
        this.headDim = config.headDim();
        int inner = heads * headDim;
        check("q_proj.weight", wq, (long) inner * width);
        check("k_proj.weight", wk, (long) inner * width);
        check("v_proj.weight", wv, (long) inner * width);
        check("o_proj.weight", wo, (long) width * inner);
        if (beta.length != heads) throw new IllegalArgumentException("beta: need " + heads + " heads, got " + beta.length);
        this.cuda = cuda;
        this.core = new CudaOvq(cuda, config.ovq(), headDim);
        this.wq = cuda.uploadBf16(wq);
        this.wk = cuda.uploadBf16(wk);
        this.wv = cuda.uploadBf16(wv);
        this.wo = cuda.uploadBf16(wo);
        this.beta = cuda.uploadFloats(beta);
    }

    private static void check(String name, short[] w, long want) {
        if (w.length != want) throw new IllegalArgumentException(name + ": need " + want + " elements, got " + w.length);
    }

    public CudaOvq core() {
        return core;
    }

    public CudaOvq.State newState(int batch) {
        return core.newState(batch, heads);
    }

    /** Bytes of one token's q, k or v (all heads), bf16. */
    private long rowBytes() {
        return (long) heads * headDim * 2;
    }

    /** q, k (L2-normalised per head) and v [B*T, H*D] from x [B*T, E]. */
    public void project(DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer x, int rows) {
        int inner = heads * headDim;
        cuda.gemmNt(q, x, wq, rows, inner, width);
        cuda.gemmNt(k, x, wk, rows, inner, width);
        cuda.gemmNt(v, x, wv, rows, inner, width);
        core.l2normalize(q, (long) rows * heads);
        core.l2normalize(k, (long) rows * heads);
    }

    /** The core's reads att [B, T, H, D] through the state, then y [B*T, E] = att . o_proj^T. */
    public void attend(DeviceBuffer y, DeviceBuffer att, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, CudaOvq.State st,
                       int tokens) {
        core.run(st, att, q, k, v, beta, tokens);
        cuda.gemmNt(y, att, wo, st.batch * tokens, width, heads * headDim);
    }

    /**
     * y [B, T, E] from x [B, T, E] bf16: T tokens through the state (a prefill, or a decode step at T = 1); the
     * state keeps the dictionaries and the open chunk for the next call.
     */
    public void forward(DeviceBuffer y, DeviceBuffer x, CudaOvq.State st, int tokens) {
        int rows = st.batch * tokens;
        long bytes = rows * rowBytes();
        if (scratch[0] == null || scratch[0].bytes() < bytes) { // kept across calls: a captured decode step allocates nothing
            closeScratch();
            for (int i = 0; i < scratch.length; i++) scratch[i] = cuda.allocate(bytes);
        }
        project(scratch[0], scratch[1], scratch[2], x, rows);
        attend(y, scratch[3], scratch[0], scratch[1], scratch[2], st, tokens);
    }

    private void closeScratch() {
        for (int i = 0; i < scratch.length; i++) {
            if (scratch[i] != null) scratch[i].close();
            scratch[i] = null;
        }
    }

    @Override
    public void close() {
        closeScratch();
        for (DeviceBuffer b : List.of(wq, wk, wv, wo, beta)) b.close();
        core.close();
    }
}
