package org.ccalab.engine.backend.cuda;

import java.util.List;
import org.ccalab.common.variant.OvqConfig;

/**
 * OVQ's attention layer on the GPU, as {@link org.ccalab.engine.attention.ovq.OvqAttention} computes it: q, k, v
 * projections (cuBLAS, bf16 with fp32 accumulation), q and k L2-normalised per head, the core ({@link CudaOvq})
 * through each sequence's dictionary, the output projection. Weights in the PyTorch layout of the CPU layer's
 * parameters: {@code q_proj}, {@code k_proj}, {@code v_proj} [H*D, E], {@code o_proj} [E, H*D]; beta [H] (exp of
 * {@code beta_log}, or sqrt(D) when fixed). Inference ({@link #forward}, prefill and decode through a state) and
 * training ({@link #forwardForTraining} from empty dictionaries, then {@link #backward}).
 */
public final class CudaOvqLayer implements AutoCloseable {
    private final CudaBackend cuda;
    private final CudaOvq core;
    private final int width, heads, headDim;
    private final DeviceBuffer wq, wk, wv, wo, beta;
    /** The weights and beta were uploaded here (closed with the layer), not a trainer's parameter buffers. */
    private final boolean ownsWeights;
    private final DeviceBuffer[] scratch = new DeviceBuffer[4]; // q, k, v, att of the last forward's size
    private final Gemm gemm;

    /** Weights as bf16 (row-major, the shapes above) and beta as fp32. */
    public CudaOvqLayer(CudaBackend cuda, OvqConfig config, short[] wq, short[] wk, short[] wv, short[] wo, float[] beta) {
        this(cuda, config, upload(cuda, config, wq, wk, wv, wo, beta), true);
    }

    /**
     * Over a trainer's buffers, which stay the trainer's: the bf16 copies of the four matrices and beta [H] fp32 (the
     * trainer refreshes it from beta_log before each forward: {@link #betaFromLog}).
     */
    public CudaOvqLayer(CudaBackend cuda, OvqConfig config, DeviceBuffer wq, DeviceBuffer wk, DeviceBuffer wv, DeviceBuffer wo,
                        DeviceBuffer beta) {
        this(cuda, config, new DeviceBuffer[] {wq, wk, wv, wo, beta}, false);
    }

    private CudaOvqLayer(CudaBackend cuda, OvqConfig config, DeviceBuffer[] w, boolean owns) {
        this.width = config.dModel();
        this.heads = config.nHeads();
        this.headDim = config.headDim();
        this.cuda = cuda;
        this.ownsWeights = owns;
        this.wq = w[0];
        this.wk = w[1];
        this.wv = w[2];
        this.wo = w[3];
        this.beta = w[4];
        this.gemm = new Gemm(cuda);
        CudaOvq c;
        try {
            c = new CudaOvq(cuda, config.ovq(), headDim);
        } catch (RuntimeException e) {
            if (owns) for (DeviceBuffer b : w) b.close();
            throw e;
        }
        this.core = c;
    }

    private static DeviceBuffer[] upload(CudaBackend cuda, OvqConfig config, short[] wq, short[] wk, short[] wv, short[] wo,
                                         float[] beta) {
        int inner = config.nHeads() * config.headDim(), width = config.dModel();
        check("q_proj.weight", wq, (long) inner * width);
        check("k_proj.weight", wk, (long) inner * width);
        check("v_proj.weight", wv, (long) inner * width);
        check("o_proj.weight", wo, (long) width * inner);
        if (beta.length != config.nHeads())
            throw new IllegalArgumentException("beta: need " + config.nHeads() + " heads, got " + beta.length);
        return new DeviceBuffer[] {cuda.uploadBf16(wq), cuda.uploadBf16(wk), cuda.uploadBf16(wv), cuda.uploadBf16(wo),
                cuda.uploadFloats(beta)};
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

    /**
     * What a training forward keeps for {@link #backward}: the projections before the norm (qRaw, kRaw) and after it
     * (q, k), v, the reads, the state the forward left and its records, and after a backward the beta gradient.
     * The input x is the caller's and must stay as it was until the backward.
     */
    public final class Training implements AutoCloseable {
        final int batch, tokens;
        final DeviceBuffer qRaw, kRaw, q, k, v, att, dBeta;
        final CudaOvq.State state;
        final CudaOvq.Records rec;
        DeviceBuffer x;

        private Training(int batch, int tokens) {
            this.batch = batch;
            this.tokens = tokens;
            long bytes = (long) batch * tokens * rowBytes();
            qRaw = cuda.allocate(bytes);
            kRaw = cuda.allocate(bytes);
            q = cuda.allocate(bytes);
            k = cuda.allocate(bytes);
            v = cuda.allocate(bytes);
            att = cuda.allocate(bytes);
            dBeta = cuda.allocate((long) batch * heads * 4);
            state = core.newState(batch, heads);
            rec = core.newRecords(batch, heads, tokens);
        }

        @Override
        public void close() {
            for (DeviceBuffer b : List.of(qRaw, kRaw, q, k, v, att, dBeta)) b.close();
            state.close();
            rec.close();
        }
    }

    public Training newTraining(int batch, int tokens) {
        if (batch < 1 || tokens < 1) throw new IllegalArgumentException("batch and tokens must be positive, got " + batch + ", " + tokens);
        return new Training(batch, tokens);
    }

    /** The layer's fp32 weight gradients [out, in], added to by {@link #backward}. */
    public record Gradients(DeviceBuffer wq, DeviceBuffer wk, DeviceBuffer wv, DeviceBuffer wo) {}

    /** y [B*T, E] from x [B*T, E] (both bf16) from empty dictionaries, keeping in {@code tr} what the backward needs. */
    public void forwardForTraining(DeviceBuffer y, DeviceBuffer x, Training tr) {
        int rows = tr.batch * tr.tokens, inner = heads * headDim;
        long bytes = rows * rowBytes();
        cuda.gemmNt(tr.qRaw, x, wq, rows, inner, width);
        cuda.gemmNt(tr.kRaw, x, wk, rows, inner, width);
        cuda.gemmNt(tr.v, x, wv, rows, inner, width);
        cuda.copy(tr.q, tr.qRaw, bytes);
        cuda.copy(tr.k, tr.kRaw, bytes);
        core.l2normalize(tr.q, (long) rows * heads);
        core.l2normalize(tr.k, (long) rows * heads);
        core.runForTraining(tr.state, tr.rec, tr.att, tr.q, tr.k, tr.v, beta, tr.tokens);
        cuda.gemmNt(y, tr.att, wo, rows, width, inner);
        tr.x = x;
    }

    /**
     * dx [B*T, E] bf16 (written) from dy [B*T, E] bf16 through the layer of {@link #forwardForTraining}, adding the
     * weight gradients to {@code g}; the beta gradient is left in {@code tr} ({@link #betaGradient}). As the CPU layer
     * (OvqAttention.backward): the output projection, the core's backward ({@link CudaOvq#backward}), the q / k norm's,
     * the three input projections'.
     */
    public void backward(DeviceBuffer dx, DeviceBuffer dy, Training tr, Gradients g) {
        if (tr.x == null) throw new IllegalStateException("backward before forwardForTraining");
        int rows = tr.batch * tr.tokens, inner = heads * headDim;
        long bf16 = rows * rowBytes();
        try (DeviceBuffer dAtt = cuda.allocate(bf16); DeviceBuffer dqF = cuda.allocate(2 * bf16);
             DeviceBuffer dkF = cuda.allocate(2 * bf16); DeviceBuffer dvF = cuda.allocate(2 * bf16);
             DeviceBuffer dq = cuda.allocate(bf16); DeviceBuffer dk = cuda.allocate(bf16); DeviceBuffer dv = cuda.allocate(bf16)) {
            gemm.backwardInput(dAtt, dy, wo, rows, inner, width, false);
            gemm.backwardWeight(g.wo(), dy, tr.att, rows, inner, width);
            core.backward(tr.state, tr.rec, dqF, dkF, dvF, tr.dBeta, dAtt, tr.q, tr.k, tr.v, beta, tr.tokens);
            core.l2normBackward(dq, tr.qRaw, dqF, (long) rows * heads, true);
            core.l2normBackward(dk, tr.kRaw, dkF, (long) rows * heads, true);
            core.l2normBackward(dv, tr.v, dvF, (long) rows * heads, false);
            gemm.backwardInput(dx, dq, wq, rows, width, inner, false);
            gemm.backwardInput(dx, dk, wk, rows, width, inner, true);
            gemm.backwardInput(dx, dv, wv, rows, width, inner, true);
            gemm.backwardWeight(g.wq(), dq, tr.x, rows, width, inner);
            gemm.backwardWeight(g.wk(), dk, tr.x, rows, width, inner);
            gemm.backwardWeight(g.wv(), dv, tr.x, rows, width, inner);
        }
    }

    /** d loss / d beta_h of the last backward, summed over the batch (beta_log's gradient is beta_h times it). */
    public double[] betaGradient(Training tr) {
        float[] per = cuda.downloadFloats(tr.dBeta, tr.batch * heads);
        double[] out = new double[heads];
        for (int i = 0; i < per.length; i++) out[i % heads] += per[i];
        return out;
    }

    private void closeScratch() {
        for (int i = 0; i < scratch.length; i++) {
            if (scratch[i] != null) scratch[i].close();
            scratch[i] = null;
        }
    }

    /** beta = exp(beta_log) [H] into this layer's beta (a trainer's layer, before each forward). */
    public void betaFromLog(DeviceBuffer betaLog) {
        core.betaFromLog(beta, betaLog, heads);
    }

    /** gradLog [H] fp32 += beta_h sum over the batch of the last backward's d loss / d beta_h (beta = exp(beta_log)). */
    public void addBetaLogGradient(DeviceBuffer gradLog, Training tr) {
        core.addBetaLogGradient(gradLog, beta, tr.dBeta, tr.batch, heads);
    }

    @Override
    public void close() {
        closeScratch();
        if (ownsWeights) for (DeviceBuffer b : List.of(wq, wk, wv, wo, beta)) b.close();
        core.close();
    }
}
