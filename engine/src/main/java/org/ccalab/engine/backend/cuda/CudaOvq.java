package org.ccalab.engine.backend.cuda;

import static org.ccalab.engine.backend.cuda.KernelArgs.floats;
import static org.ccalab.engine.backend.cuda.KernelArgs.ints;
import static org.ccalab.engine.backend.cuda.KernelArgs.longs;
import static org.ccalab.engine.backend.cuda.KernelArgs.ptr;

import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import org.ccalab.common.variant.OvqAssignment;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.variant.OvqUpdate;

/**
 * OVQ-attention's core on the GPU (attention/ovq.cuh, ovq.md sections 4-5): tokens run through each (sequence,
 * head)'s online dictionary, which lives on the device between calls, so a prefill and the decode steps after it
 * are the same kernel ({@link #run} with T tokens or one). One cluster of {@link #CLUSTER} blocks per (sequence,
 * head); dictionary row j belongs to block j % {@link #CLUSTER}. The state is fp32 as the spec keeps it.
 *
 * <p>Covered: head dim 64 or 128, chunk length up to {@link #MAX_CHUNK}, any dictionary size, every [ours] flag of
 * {@link OvqSpec}; thread-block clusters need compute capability 9.0 (the sm_80 image traps, so it is refused).
 * The backward ({@link #backward}, attention/ovq_bwd.cuh) differentiates a {@link #runForTraining} through its
 * {@link Records}; {@link CudaOvqLayer} composes both into the layer the GPU trainer runs.
 */
public final class CudaOvq implements AutoCloseable {
    static final int THREADS = 256, CLUSTER = 8, MAX_CHUNK = 64, MIN_ARCH = 900;
    /** ovq.cuh's cap on the direct decode path's rows per block (ovq::DEC_ROWS), part of its shared-memory layout. */
    static final int DECODE_ROWS = 2176, WARPS = THREADS / 32;
    static final int[] HEAD_DIMS = {64, 128};
    /** ovq_bwd.cuh's F_STATE_GRAD: gradients through the folds (the spec's stateGradient). */
    static final int STATE_GRADIENT = 16;
    /** The longest growth-target table the kernel is handed (one int per chunk until the schedule saturates). */
    static final int MAX_TARGETS = 1 << 20;

    static String runKernel(int headDim) {
        return "ovq_run_hd" + headDim;
    }

    /** The training forward: the same read and fold, leaving the backward's {@link Records}. */
    static String trainKernel(int headDim) {
        return "ovq_run_train_hd" + headDim;
    }

    static String backwardKernel(int headDim) {
        return "ovq_bwd_hd" + headDim;
    }

    static String l2normKernel(int headDim) {
        return "ovq_l2norm_hd" + headDim;
    }

    static String l2normBackwardKernel(int headDim) {
        return "ovq_l2norm_bwd_hd" + headDim;
    }

    static final String BETA_EXP = "ovq_beta_exp", BETA_GRAD = "ovq_beta_grad";

    static List<String> all() {
        List<String> names = new ArrayList<>(List.of(BETA_EXP, BETA_GRAD));
        for (int d : HEAD_DIMS) {
            names.add(runKernel(d));
            names.add(trainKernel(d));
            names.add(backwardKernel(d));
            names.add(l2normKernel(d));
            names.add(l2normBackwardKernel(d));
        }
        return names;
    }

    /**
     * ovq::smem_bytes&lt;D&gt;(): a row tile's three bf16 planes (the same space is the direct decode's and the fold's
     * scratch), the partial numerators (rows padded by 8 floats), the rows' counts and norms, the chunk's q/k/v,
     * per-token arrays, per-warp weights. Under 113 KB: two blocks per SM.
     */
    static int smemBytes(int headDim) {
        int l = MAX_CHUNK, rt = headDim == 64 ? 64 : 32;
        int union = Math.max(3 * rt * headDim / 2, 2 * DECODE_ROWS);
        int floats = union + l * (headDim + 8) + 3 * rt + 3 * l * headDim / 2 + l * 12 + WARPS * l;
        return floats * 4;
    }

    /**
     * ovq::bwd_smem_bytes&lt;D&gt;(): a tile of BR rows (32 at D 64, 16 at D 128; fp32 rows of D + 4, counts, norms,
     * the per-(token, row) weights) whose space then holds the exchanged partial dq, the chunk's q, k, v, dO (bf16 rows
     * of D + 8), per-token and per-warp arrays, the fold's per-token factors. Under 113 KB: two blocks per SM.
     */
    static int backwardSmemBytes(int headDim) {
        int l = MAX_CHUNK, br = headDim == 64 ? 32 : 16, ts = headDim + 4;
        int tile = 2 * br * ts + 2 * br + 2 * l * (br + 1);
        int floats = Math.max(tile, l * ts) + 2 * l * (headDim + 8) + 3 * l + 2 * WARPS * l + WARPS + 1 + 6 * l;
        return floats * 4;
    }

    /**
     * Why the kernels do not cover this head dim and spec, naming the field at fault, or null when they do (the
     * device's own limit, compute capability, is checked when a {@link CudaOvq} is made).
     */
    public static String unsupported(OvqSpec spec, int headDim) {
        if (headDim != 64 && headDim != 128)
            return "variant.headDim: the CUDA OVQ kernels take head dim 64 or 128, got " + headDim;
        if (spec.chunkLength() > MAX_CHUNK)
            return "variant.ovq.chunkLength: the CUDA OVQ kernels take chunks of up to " + MAX_CHUNK + " tokens, got "
                    + spec.chunkLength();
        if (saturation(spec) > MAX_TARGETS)
            return "variant.ovq.growthLength: the growth schedule reaches its cap after " + saturation(spec)
                    + " chunks, more than the " + MAX_TARGETS + " the CUDA OVQ kernels tabulate";
        return null;
    }

    /** Chunks folded before the schedule's target reaches N_max (it stays there), at least 1. */
    static long saturation(OvqSpec spec) {
        long lo = 1, hi = 1;
        while (spec.dictionaryTarget(hi * spec.chunkLength()) < spec.dictionarySize()) {
            lo = hi;
            hi *= 2;
            if (hi > 4L * MAX_TARGETS) return hi;
        }
        while (lo < hi) { // the first chunk count whose target is N_max
            long mid = (lo + hi) >>> 1;
            if (spec.dictionaryTarget(mid * spec.chunkLength()) < spec.dictionarySize()) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /** targets[f] = the size the fold of chunk f grows towards, f < saturation; the last entry is N_max. */
    static int[] targets(OvqSpec spec) {
        int n = (int) saturation(spec);
        int[] t = new int[n];
        for (int f = 0; f < n; f++) t[f] = spec.dictionaryTarget((long) (f + 1) * spec.chunkLength());
        return t;
    }

    /** ovq.cuh's flag bits. */
    static int flags(OvqSpec spec) {
        return (spec.assignment() == OvqAssignment.EUCLIDEAN ? 1 : 0) | (spec.update() == OvqUpdate.NEWTON ? 2 : 0)
                | (spec.stateOnly() ? 4 : 0) | (spec.renormalizeCentroids() ? 8 : 0);
    }

    private final CudaBackend cuda;
    private final OvqSpec spec;
    private final int headDim, nTargets;
    private final DeviceBuffer targets;

    /** Refuses what the kernels do not cover (IllegalArgumentException naming the field) or the device cannot run. */
    public CudaOvq(CudaBackend cuda, OvqSpec spec, int headDim) {
        String why = unsupported(spec, headDim);
        if (why != null) throw new IllegalArgumentException(why);
        if (cuda.imageArch() < MIN_ARCH)
            throw new IllegalArgumentException("variant.family: the CUDA OVQ kernels need thread-block clusters (compute "
                    + "capability 9.0 or newer); this GPU runs the kernels' " + cuda.imageArch() + " image");
        this.cuda = cuda;
        this.spec = spec;
        this.headDim = headDim;
        int[] t = targets(spec);
        this.nTargets = t.length;
        float[] bits = new float[t.length];
        for (int i = 0; i < t.length; i++) bits[i] = Float.intBitsToFloat(t[i]);
        this.targets = cuda.uploadFloats(bits);
    }

    public OvqSpec spec() {
        return spec;
    }

    public int headDim() {
        return headDim;
    }

    /** Per (sequence, head): the dictionary (fp32 mu, values, counts), {n, folded, open} and the open chunk's k, v. */
    public final class State implements AutoCloseable {
        final int batch, heads;
        final DeviceBuffer mu, val, cnt, meta, bufK, bufV;

        private State(int batch, int heads) {
            this.batch = batch;
            this.heads = heads;
            long bh = (long) batch * heads, rows = bh * spec.dictionarySize();
            mu = cuda.allocate(rows * headDim * 4);
            val = cuda.allocate(rows * headDim * 4);
            cnt = cuda.allocate(rows * 4);
            meta = cuda.allocate(bh * 16);
            bufK = cuda.allocate(bh * spec.chunkLength() * headDim * 2);
            bufV = cuda.allocate(bh * spec.chunkLength() * headDim * 2);
            reset();
        }

        /** This state becomes a copy of {@code other} (same batch and heads), on the stream. */
        public void copyFrom(State other) {
            if (other.batch != batch || other.heads != heads)
                throw new IllegalArgumentException("state of " + other.batch + " x " + other.heads + " into " + batch + " x " + heads);
            DeviceBuffer[] to = {mu, val, cnt, meta, bufK, bufV};
            DeviceBuffer[] from = {other.mu, other.val, other.cnt, other.meta, other.bufK, other.bufV};
            for (int i = 0; i < to.length; i++) cuda.copy(to[i], from[i], to[i].bytes());
        }

        /** Empties every dictionary (a new sequence): only the counters matter, rows past n are never read. */
        public void reset() {
            cuda.zero(meta);
        }

        /** {n, folded chunks, open-chunk tokens} per (sequence, head), from the device. */
        public int[][] meta() {
            float[] raw = cuda.downloadFloats(meta, batch * heads * 4);
            int[][] out = new int[batch * heads][3];
            for (int i = 0; i < out.length; i++)
                for (int c = 0; c < 3; c++) out[i][c] = Float.floatToRawIntBits(raw[4 * i + c]);
            return out;
        }

        /** The first {@code n} counts of (sequence, head) {@code bh}. */
        public double[] counts(int bh, int n) {
            float[] all = cuda.downloadFloats(cnt, batch * heads * spec.dictionarySize());
            double[] out = new double[n];
            for (int j = 0; j < n; j++) out[j] = all[bh * spec.dictionarySize() + j];
            return out;
        }

        /** Bytes a read of the whole state moves when {@code n} rows are active (fp32 rows + the open chunk). */
        public long readBytes(int n, int open) {
            return (long) batch * heads * ((long) n * (2L * headDim + 1) * 4 + (long) open * 2 * headDim * 2);
        }

        @Override
        public void close() {
            for (DeviceBuffer b : List.of(mu, val, cnt, meta, bufK, bufV)) b.close();
        }
    }

    public State newState(int batch, int heads) {
        if (batch < 1 || heads < 1) throw new IllegalArgumentException("batch and heads must be positive, got " + batch + ", " + heads);
        return new State(batch, heads);
    }

    /**
     * o [B, T, H, D] bf16: T tokens of q, k (L2-normalised) and v [B, T, H, D] bf16 through the state's
     * dictionaries (updated in place), beta [H] fp32.
     */
    public void run(State s, DeviceBuffer o, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer beta, int tokens) {
        launchRun(runKernel(headDim), s, o, q, k, v, beta, tokens, null);
    }

    /**
     * What a training forward leaves for {@link #backward} (ovq::Records): per (sequence, head) and fold, each token's
     * row (founders marked), the size before the fold and the rows the write touched as they were; per token the
     * read's max logit and denominator and the read in fp32. O(T D) per head, like K and V.
     */
    public final class Records implements AutoCloseable {
        final int batch, heads, tokens, folds;
        final DeviceBuffer code, nOld, prev, stats, oF;

        private Records(int batch, int heads, int tokens) {
            this.batch = batch;
            this.heads = heads;
            this.tokens = tokens;
            this.folds = tokens / spec.chunkLength();
            long bh = (long) batch * heads, f = Math.max(1, folds), l = spec.chunkLength(), rows = (long) batch * tokens * heads;
            code = cuda.allocate(bh * f * l * 4);
            nOld = cuda.allocate(bh * f * 4);
            prev = cuda.allocate(bh * f * l * (2L * headDim + 4) * 4);  // ovq::prev_stride: rows padded to 16 bytes
            stats = cuda.allocate(rows * 2 * 4);
            oF = cuda.allocate(rows * headDim * 4);
        }

        @Override
        public void close() {
            for (DeviceBuffer b : List.of(code, nOld, prev, stats, oF)) b.close();
        }
    }

    public Records newRecords(int batch, int heads, int tokens) {
        if (batch < 1 || heads < 1 || tokens < 1)
            throw new IllegalArgumentException("batch, heads and tokens must be positive, got " + batch + ", " + heads + ", " + tokens);
        return new Records(batch, heads, tokens);
    }

    /**
     * The training forward: as {@link #run} from an empty state (reset here: training sequences start empty), also
     * filling {@code rec} for {@link #backward}.
     */
    public void runForTraining(State s, Records rec, DeviceBuffer o, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                               DeviceBuffer beta, int tokens) {
        requireMatch(s, rec, tokens);
        s.reset();
        launchRun(trainKernel(headDim), s, o, q, k, v, beta, tokens, rec);
    }

    private void launchRun(String kernel, State s, DeviceBuffer o, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                           DeviceBuffer beta, int tokens, Records rec) {
        if (tokens < 1) throw new IllegalArgumentException("tokens must be positive, got " + tokens);
        long bytes = (long) s.batch * tokens * s.heads * headDim * 2;
        need(o, bytes, "o");
        need(q, bytes, "q");
        need(k, bytes, "k");
        need(v, bytes, "v");
        need(beta, (long) s.heads * 4, "beta");
        Pointer none = longs(0);
        cuda.kernels().launch(kernel, new int[] {CLUSTER, s.heads, s.batch}, THREADS, smemBytes(headDim),
                cuda.device().stream(), Pointer.to(ptr(o), ptr(q), ptr(k), ptr(v), ptr(beta), ptr(s.mu), ptr(s.val),
                        ptr(s.cnt), ptr(s.meta), ptr(s.bufK), ptr(s.bufV), ptr(targets), ints(nTargets), ints(tokens),
                        ints(s.heads), ints(spec.dictionarySize()), ints(spec.chunkLength()), ints(flags(spec)),
                        floats(spec.constantRate().floatValue()), rec == null ? none : ptr(rec.code),
                        rec == null ? none : ptr(rec.nOld), rec == null ? none : ptr(rec.prev),
                        rec == null ? none : ptr(rec.stats), rec == null ? none : ptr(rec.oF), ints(rec == null ? 0 : rec.folds)));
    }

    /**
     * The backward of {@link #runForTraining} (ovq.md section 6; the CPU's OvqHeadGradient): dq, dk, dv [B, T, H, D]
     * fp32 for the normalised q, k and for v, and dBeta [B * H] fp32 (sum over B for the head's), from dO [B, T, H,
     * D] bf16 and the same q, k, v, beta, the state that forward left and its {@code rec} (both kept: the kernel
     * rewinds a copy, so one forward can be differentiated again). Gradients flow through the folds into earlier keys
     * and values when the spec's {@code stateGradient} says so.
     */
    public void backward(State s, Records rec, DeviceBuffer dq, DeviceBuffer dk, DeviceBuffer dv, DeviceBuffer dBeta,
                         DeviceBuffer dO, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer beta, int tokens) {
        requireMatch(s, rec, tokens);
        try (State rewound = newState(s.batch, s.heads)) {
            rewound.copyFrom(s);
            rewindingBackward(rewound, rec, dq, dk, dv, dBeta, dO, q, k, v, beta, tokens);
        }
    }

    private void rewindingBackward(State s, Records rec, DeviceBuffer dq, DeviceBuffer dk, DeviceBuffer dv, DeviceBuffer dBeta,
                                   DeviceBuffer dO, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, DeviceBuffer beta, int tokens) {
        long bf16 = (long) s.batch * tokens * s.heads * headDim * 2;
        for (var b : List.of(dO, q, k, v)) need(b, bf16, "dO, q, k, v");
        for (var b : List.of(dq, dk, dv)) need(b, 2 * bf16, "dq, dk, dv (fp32)");
        need(dBeta, (long) s.batch * s.heads * 4, "dBeta");
        need(beta, (long) s.heads * 4, "beta");
        long gradBytes = (long) s.batch * s.heads * spec.dictionarySize() * headDim * 4;
        try (DeviceBuffer dMu = cuda.allocate(gradBytes); DeviceBuffer dVal = cuda.allocate(gradBytes)) {
            int flags = flags(spec) | (spec.stateGradient() ? STATE_GRADIENT : 0);
            cuda.kernels().launch(backwardKernel(headDim), new int[] {CLUSTER, s.heads, s.batch}, THREADS,
                    backwardSmemBytes(headDim), cuda.device().stream(), Pointer.to(ptr(dq), ptr(dk), ptr(dv), ptr(dBeta),
                            ptr(q), ptr(k), ptr(v), ptr(dO), ptr(beta), ptr(s.mu), ptr(s.val), ptr(s.cnt), ptr(s.meta),
                            ptr(rec.code), ptr(rec.nOld), ptr(rec.prev), ptr(rec.stats), ptr(rec.oF), ints(rec.folds),
                            ptr(dMu), ptr(dVal), ints(tokens), ints(s.heads), ints(spec.dictionarySize()),
                            ints(spec.chunkLength()), ints(flags), floats(spec.constantRate().floatValue())));
        }
    }

    private static void requireMatch(State s, Records rec, int tokens) {
        if (rec.batch != s.batch || rec.heads != s.heads || rec.tokens != tokens)
            throw new IllegalArgumentException("records for " + rec.batch + " x " + rec.tokens + " tokens x " + rec.heads
                    + " heads, the call is " + s.batch + " x " + tokens + " x " + s.heads);
    }

    /** x / sqrt(|x|^2 + 1e-12) per row of D, in place: x [rows, D] bf16 (q or k of every token and head). */
    public void l2normalize(DeviceBuffer x, long rows) {
        need(x, rows * headDim * 2, "x");
        int warps = THREADS / 32;
        cuda.kernels().launch(l2normKernel(headDim), new int[] {(int) ((rows + warps - 1) / warps), 1, 1}, THREADS, 0,
                cuda.device().stream(), Pointer.to(ptr(x), longs(rows)));
    }

    /** beta [H] = exp(betaLog [H]) (fp32). */
    void betaFromLog(DeviceBuffer beta, DeviceBuffer betaLog, int heads) {
        need(beta, heads * 4L, "beta");
        need(betaLog, heads * 4L, "betaLog");
        cuda.kernels().launch(BETA_EXP, new int[] {1, 1, 1}, 32 * ((heads + 31) / 32), 0, cuda.device().stream(),
                Pointer.to(ptr(beta), ptr(betaLog), ints(heads)));
    }

    /** gradLog [H] += beta_h sum_b dBeta [B, H] (fp32), in batch order. */
    void addBetaLogGradient(DeviceBuffer gradLog, DeviceBuffer beta, DeviceBuffer dBeta, int batch, int heads) {
        need(gradLog, heads * 4L, "gradLog");
        need(dBeta, (long) batch * heads * 4, "dBeta");
        cuda.kernels().launch(BETA_GRAD, new int[] {1, 1, 1}, 32 * ((heads + 31) / 32), 0, cuda.device().stream(),
                Pointer.to(ptr(gradLog), ptr(beta), ptr(dBeta), ints(batch), ints(heads)));
    }

    /**
     * dX [rows, D] bf16 from dXhat [rows, D] fp32 through the per-head L2 norm, X [rows, D] bf16 the rows before it;
     * with {@code normalize} false only dXhat rounded to bf16.
     */
    public void l2normBackward(DeviceBuffer dX, DeviceBuffer x, DeviceBuffer dXhat, long rows, boolean normalize) {
        need(dX, rows * headDim * 2, "dX");
        need(x, rows * headDim * 2, "x");
        need(dXhat, rows * headDim * 4, "dXhat");
        int warps = THREADS / 32;
        cuda.kernels().launch(l2normBackwardKernel(headDim), new int[] {(int) ((rows + warps - 1) / warps), 1, 1}, THREADS, 0,
                cuda.device().stream(), Pointer.to(ptr(dX), ptr(x), ptr(dXhat), longs(rows), ints(normalize ? 1 : 0)));
    }

    private static void need(DeviceBuffer b, long bytes, String name) {
        if (b.bytes() < bytes)
            throw new IllegalArgumentException(name + ": device buffer of " + b.bytes() + " bytes, the shape needs " + bytes);
    }

    @Override
    public void close() {
        targets.close();
    }
}
