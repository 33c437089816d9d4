package org.ccalab.engine.backend.cuda;

import static org.ccalab.engine.backend.cuda.KernelArgs.floats;
import static org.ccalab.engine.backend.cuda.KernelArgs.ints;
import static org.ccalab.engine.backend.cuda.KernelArgs.ptr;

import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * The training kernels of training_kernels.cuh (everything a GPU training step needs besides attention and
 * GEMMs): their names, launch shapes and shared-memory sizes, and thin launchers on the backend's stream.
 * The constants must match the CUDA namespaces rmsnorm, swiglu, embedding, xent, adamw and rope; the shape
 * functions are static so that they are tested without a GPU, and bench/ccalab_training.py mirrors them.
 *
 * <p>Dtypes follow the CPU reference (model/, train/) at mixed precision: activations and their gradients
 * into GEMMs bf16, norm weights, rstd, master weights, optimizer state and weight gradients fp32. Letters: N
 * tokens (rows), E width (a multiple of 8), F MLP hidden width, V vocabulary. Every launcher only enqueues;
 * scratch comes from the device's pool and goes back to it once queued (same stream, so a later user runs
 * after these kernels).
 */
public final class CudaTrainingKernels {
    // ---- launch shapes (training/*.cuh)
    static final int RMS_FWD_ROWS = 8, RMS_FWD_THREADS = 256;               // one row per warp
    static final int RMS_BWD_WARPS = 4, RMS_BWD_THREADS = 128, RMS_BWD_ROWS = 32;
    static final int RMS_REDUCE_COLS = 32, RMS_REDUCE_THREADS = 256;
    static final int ELEMENTWISE_THREADS = 256, ELEMENTWISE_MAX_BLOCKS = 16_384;
    static final int EMB_FWD_ROWS = 8, EMB_FWD_THREADS = 256, EMB_THREADS = 256, EMB_SCAN_THREADS = 1024;
    static final int EMB_SCATTER_MAX_BLOCKS = 4096;
    static final int XENT_SMALL_THREADS = 256, XENT_LARGE_THREADS = 1024, XENT_LARGE_FROM_V = 16_384;
    static final int SUMSQ_THREADS = 256, SUMSQ_PER_BLOCK = 4096, SUMSQ_MAX_BLOCKS = 1024;
    static final int ROPE_THREADS = 128, ROPE_MAX_DIMS = 512;
    /** torch.nn.CrossEntropyLoss's ignore_index as data/Batch.IGNORE. */
    public static final int IGNORE_TARGET = -1;

    // ---- names
    static final String RMSNORM_FWD = "rmsnorm_fwd", RMSNORM_RESIDUAL_FWD = "rmsnorm_residual_fwd";
    static final String RMSNORM_DW_REDUCE = "rmsnorm_dw_reduce";
    static final String SWIGLU_FWD = "swiglu_fwd", SWIGLU_BWD = "swiglu_bwd";
    static final String EMB_COUNT = "embedding_bwd_count", EMB_SCAN = "embedding_bwd_scan";
    static final String EMB_SCATTER = "embedding_bwd_scatter";
    static final String ADAMW = "adamw_step", SUMSQ_PARTIAL = "grad_sumsq_partial", SUMSQ_REDUCE = "grad_sumsq_reduce";
    static final String CAST_F32_BF16 = "cast_f32_bf16";

    /** Element type of a tensor a kernel comes in two versions for; the suffix of its name. */
    public enum Dtype {
        F32("f32", 4), BF16("bf16", 2);

        final String suffix;
        final int bytes;

        Dtype(String suffix, int bytes) {
            this.suffix = suffix;
            this.bytes = bytes;
        }
    }

    static String rmsnormBackward(Dtype dx) {
        return "rmsnorm_bwd_" + dx.suffix;
    }

    static String embeddingForward(Dtype table) {
        return "embedding_fwd_" + table.suffix;
    }

    static String embeddingBackwardRows(Dtype dx) {
        return "embedding_bwd_rows_" + dx.suffix;
    }

    static String crossEntropy(Dtype logits) {
        return "cross_entropy_" + logits.suffix;
    }

    static String rope(Dtype x) {
        return "rope_" + x.suffix;
    }

    /** Every training kernel; the backend can check them against the fatbin when it opens. */
    public static List<String> all() {
        List<String> names = new ArrayList<>(List.of(RMSNORM_FWD, RMSNORM_RESIDUAL_FWD, RMSNORM_DW_REDUCE, SWIGLU_FWD,
                SWIGLU_BWD, EMB_COUNT, EMB_SCAN, EMB_SCATTER, ADAMW, SUMSQ_PARTIAL, SUMSQ_REDUCE, CAST_F32_BF16));
        for (Dtype d : Dtype.values()) {
            names.add(rmsnormBackward(d));
            names.add(embeddingForward(d));
            names.add(embeddingBackwardRows(d));
            names.add(crossEntropy(d));
            names.add(rope(d));
        }
        return names;
    }

    // ---- shapes

    static int ceil(long a, long b) {
        return Math.toIntExact((a + b - 1) / b);
    }

    static int rmsnormForwardBlocks(int n) {
        return ceil(n, RMS_FWD_ROWS);
    }

    /** Blocks of the norm backward = dw partial rows: a function of N only, so dw is the same on any GPU. */
    static int rmsnormBackwardBlocks(int n) {
        return ceil(n, RMS_BWD_ROWS);
    }

    /** Per-warp dw accumulators, fp32. Above 48 KiB (E > 3072) the module raises the function's limit. */
    static int rmsnormBackwardSmem(int e) {
        return RMS_BWD_WARPS * e * 4;
    }

    static int rmsnormReduceBlocks(int e) {
        return ceil(e, RMS_REDUCE_COLS);
    }

    /** Grid of the grid-stride elementwise kernels (SwiGLU, AdamW) over {@code work} items of 8 or 4 elements. */
    static int elementwiseBlocks(long work) {
        return (int) Math.max(1, Math.min(ELEMENTWISE_MAX_BLOCKS, (work + ELEMENTWISE_THREADS - 1) / ELEMENTWISE_THREADS));
    }

    static int embeddingForwardBlocks(int n) {
        return ceil(n, EMB_FWD_ROWS);
    }

    static int embeddingScatterBlocks(int n) {
        return Math.max(1, Math.min(EMB_SCATTER_MAX_BLOCKS, ceil(n, EMB_THREADS)));
    }

    /** One block per row; large vocabularies take 1024 threads so that fewer rows stay in flight (L2 reuse). */
    static int crossEntropyThreads(int vocab) {
        return vocab >= XENT_LARGE_FROM_V ? XENT_LARGE_THREADS : XENT_SMALL_THREADS;
    }

    /** Partials of one tensor's sum of squares: a function of n only (the reduction order is fixed by it). */
    static int sumsqBlocks(int n) {
        return Math.max(1, Math.min(SUMSQ_MAX_BLOCKS, ceil(n, SUMSQ_PER_BLOCK)));
    }

    static void checkWidth(int e) {
        if (e <= 0 || e % 8 != 0) throw new IllegalArgumentException("width " + e + " must be a positive multiple of 8");
    }

    static void checkRope(int headDim, int offset, int dims) {
        if (dims < 0 || dims % 2 != 0 || dims > ROPE_MAX_DIMS)
            throw new IllegalArgumentException("rotary dims " + dims + " must be even and at most " + ROPE_MAX_DIMS);
        if (offset < 0 || offset + dims > headDim)
            throw new IllegalArgumentException("rotary slice [" + offset + ", " + (offset + dims) + ") outside headDim " + headDim);
    }

    // ---- launchers

    private final KernelModule kernels;
    private final CudaDevice device;

    CudaTrainingKernels(KernelModule kernels, CudaDevice device) {
        this.kernels = kernels;
        this.device = device;
    }

    private void launch(String name, int grid, int threads, int smem, Pointer params) {
        kernels.launch(name, new int[] {grid, 1, 1}, threads, smem, device.stream(), params);
    }

    /** y [N, E] bf16, rstd [N] fp32 from x [N, E] bf16 and the gain w [E] fp32. */
    public void rmsnormForward(DeviceBuffer y, DeviceBuffer rstd, DeviceBuffer x, DeviceBuffer w, int n, int e, double eps) {
        checkWidth(e);
        need(y, (long) n * e * 2, "y");
        need(rstd, n * 4L, "rstd");
        need(x, (long) n * e * 2, "x");
        need(w, e * 4L, "w");
        if (n == 0) return;
        launch(RMSNORM_FWD, rmsnormForwardBlocks(n), RMS_FWD_THREADS, 0,
                Pointer.to(ptr(y), ptr(rstd), ptr(x), ptr(w), ints(n), ints(e), floats((float) eps)));
    }

    /** sum = bf16(x + r) [N, E] (the residual stream after a sublayer), then y = rmsnorm(sum) as above. */
    public void rmsnormResidualForward(DeviceBuffer y, DeviceBuffer rstd, DeviceBuffer sum, DeviceBuffer x,
                                       DeviceBuffer r, DeviceBuffer w, int n, int e, double eps) {
        checkWidth(e);
        for (DeviceBuffer b : List.of(y, sum, x, r)) need(b, (long) n * e * 2, "activation");
        need(rstd, n * 4L, "rstd");
        need(w, e * 4L, "w");
        if (n == 0) return;
        launch(RMSNORM_RESIDUAL_FWD, rmsnormForwardBlocks(n), RMS_FWD_THREADS, 0,
                Pointer.to(ptr(y), ptr(rstd), ptr(sum), ptr(x), ptr(r), ptr(w), ints(n), ints(e), floats((float) eps)));
    }

    /**
     * dx [N, E] (dtype dxType) = the norm's input gradient, plus dres [N, E] (same dtype; null for none; may be
     * dx itself: the residual path's gradient); dw [E] fp32 += the gain's gradient, summed in a fixed order.
     * dy, x bf16.
     */
    public void rmsnormBackward(DeviceBuffer dx, Dtype dxType, DeviceBuffer dw, DeviceBuffer dres, DeviceBuffer dy,
                                DeviceBuffer x, DeviceBuffer w, DeviceBuffer rstd, int n, int e) {
        checkWidth(e);
        need(dx, (long) n * e * dxType.bytes, "dx");
        if (dres != null) need(dres, (long) n * e * dxType.bytes, "dres");
        need(dy, (long) n * e * 2, "dy");
        need(x, (long) n * e * 2, "x");
        need(w, e * 4L, "w");
        need(dw, e * 4L, "dw");
        need(rstd, n * 4L, "rstd");
        if (n == 0) return;
        int blocks = rmsnormBackwardBlocks(n);
        try (DeviceBuffer partial = device.pool().allocate((long) blocks * e * 4)) {
            launch(rmsnormBackward(dxType), blocks, RMS_BWD_THREADS, rmsnormBackwardSmem(e),
                    Pointer.to(ptr(dx), ptr(partial), nullable(dres), ptr(dy), ptr(x), ptr(w), ptr(rstd), ints(n), ints(e)));
            launch(RMSNORM_DW_REDUCE, rmsnormReduceBlocks(e), RMS_REDUCE_THREADS, 0,
                    Pointer.to(ptr(dw), ptr(partial), ints(blocks), ints(e)));
        }
    }

    /** h [N, F] = silu(gate) * up, gate and up the two halves of one fused projection output [N, 2F] (bf16). */
    public void swigluForward(DeviceBuffer h, DeviceBuffer gateUp, int n, int f) {
        need(gateUp, (long) n * 2 * f * 2, "gateUp");
        swigluForward(h, Pointer.to(gateUp.pointer()), Pointer.to(gateUp.pointer().withByteOffset(f * 2L)), n, f, 2 * f);
    }

    /** h [N, F] = silu(gate) * up with gate, up [N, F] bf16 in separate buffers. */
    public void swigluForward(DeviceBuffer h, DeviceBuffer gate, DeviceBuffer up, int n, int f) {
        need(gate, (long) n * f * 2, "gate");
        need(up, (long) n * f * 2, "up");
        swigluForward(h, ptr(gate), ptr(up), n, f, f);
    }

    private void swigluForward(DeviceBuffer h, Pointer gate, Pointer up, int n, int f, int ldIn) {
        need(h, (long) n * f * 2, "h");
        if (n == 0 || f == 0) return;
        launch(SWIGLU_FWD, elementwiseBlocks(ceil((long) n * f, 8)), ELEMENTWISE_THREADS, 0,
                Pointer.to(ptr(h), gate, up, ints(n), ints(f), ints(ldIn)));
    }

    /** dGateUp [N, 2F] (the fused projection's output gradient; may be gateUp itself) from dh [N, F]. */
    public void swigluBackward(DeviceBuffer dGateUp, DeviceBuffer dh, DeviceBuffer gateUp, int n, int f) {
        need(dGateUp, (long) n * 2 * f * 2, "dGateUp");
        need(gateUp, (long) n * 2 * f * 2, "gateUp");
        swigluBackward(Pointer.to(dGateUp.pointer()), Pointer.to(dGateUp.pointer().withByteOffset(f * 2L)), dh,
                Pointer.to(gateUp.pointer()), Pointer.to(gateUp.pointer().withByteOffset(f * 2L)), n, f, 2 * f, 2 * f);
    }

    /** dgate, dup [N, F] (may be gate, up themselves) from dh, gate, up [N, F] in separate bf16 buffers. */
    public void swigluBackward(DeviceBuffer dgate, DeviceBuffer dup, DeviceBuffer dh, DeviceBuffer gate, DeviceBuffer up,
                               int n, int f) {
        for (DeviceBuffer b : List.of(dgate, dup, gate, up)) need(b, (long) n * f * 2, "swiglu operand");
        swigluBackward(ptr(dgate), ptr(dup), dh, ptr(gate), ptr(up), n, f, f, f);
    }

    private void swigluBackward(Pointer dgate, Pointer dup, DeviceBuffer dh, Pointer gate, Pointer up, int n, int f,
                                int ldIn, int ldOut) {
        need(dh, (long) n * f * 2, "dh");
        if (n == 0 || f == 0) return;
        launch(SWIGLU_BWD, elementwiseBlocks(ceil((long) n * f, 8)), ELEMENTWISE_THREADS, 0,
                Pointer.to(dgate, dup, ptr(dh), gate, up, ints(n), ints(f), ints(ldIn), ints(ldOut)));
    }

    /** x [N, E] bf16 = table[ids] with table [V, E] of dtype tableType; ids [N] int32. */
    public void embeddingForward(DeviceBuffer x, DeviceBuffer ids, DeviceBuffer table, Dtype tableType, int n, int vocab,
                                 int e) {
        checkWidth(e);
        need(x, (long) n * e * 2, "x");
        need(ids, n * 4L, "ids");
        need(table, (long) vocab * e * tableType.bytes, "table");
        if (n == 0) return;
        launch(embeddingForward(tableType), embeddingForwardBlocks(n), EMB_FWD_THREADS, 0,
                Pointer.to(ptr(x), ptr(ids), ptr(table), ints(n), ints(vocab), ints(e)));
    }

    /**
     * dtable [V, E] fp32 += the embedding gradient from dx [N, E] (dtype dxType), deterministically (every
     * vocabulary row summed by one block over its tokens in position order: training/embedding.cuh).
     */
    public void embeddingBackward(DeviceBuffer dtable, DeviceBuffer dx, Dtype dxType, DeviceBuffer ids, int n, int vocab,
                                  int e) {
        checkWidth(e);
        need(dtable, (long) vocab * e * 4, "dtable");
        need(dx, (long) n * e * dxType.bytes, "dx");
        need(ids, n * 4L, "ids");
        if (n == 0) return;
        try (DeviceBuffer cursor = device.pool().allocate(vocab * 4L);
             DeviceBuffer start = device.pool().allocate((vocab + 1) * 4L);
             DeviceBuffer order = device.pool().allocate(n * 4L)) {
            device.zero(cursor, vocab * 4L);
            int blocks = embeddingScatterBlocks(n);
            launch(EMB_COUNT, blocks, EMB_THREADS, 0, Pointer.to(ptr(cursor), ptr(ids), ints(n), ints(vocab)));
            launch(EMB_SCAN, 1, EMB_SCAN_THREADS, 0, Pointer.to(ptr(start), ptr(cursor), ints(vocab)));
            launch(EMB_SCATTER, blocks, EMB_THREADS, 0, Pointer.to(ptr(order), ptr(cursor), ptr(ids), ints(n), ints(vocab)));
            launch(embeddingBackwardRows(dxType), vocab, EMB_THREADS, 0,
                    Pointer.to(ptr(dtable), ptr(order), ptr(start), ptr(dx), ints(vocab), ints(e)));
        }
    }

    /**
     * Per-row loss [N] fp32 from logits [N, V] (dtype logitsType) and targets [N] int32 ({@link #IGNORE_TARGET}
     * not scored); dlogits (null: loss only; may be logits itself) = (softmax - onehot) * gradScale, where
     * gradScale = 1 / scored targets; correct [N] int32 (nullable) = argmax == target.
     */
    public void crossEntropy(DeviceBuffer loss, DeviceBuffer dlogits, DeviceBuffer correct, DeviceBuffer logits,
                             Dtype logitsType, DeviceBuffer targets, int n, int vocab, float gradScale) {
        need(loss, n * 4L, "loss");
        need(logits, (long) n * vocab * logitsType.bytes, "logits");
        if (dlogits != null) need(dlogits, (long) n * vocab * logitsType.bytes, "dlogits");
        if (correct != null) need(correct, n * 4L, "correct");
        need(targets, n * 4L, "targets");
        if (n == 0) return;
        launch(crossEntropy(logitsType), n, crossEntropyThreads(vocab), 0,
                Pointer.to(ptr(loss), nullable(dlogits), nullable(correct), ptr(logits), ptr(targets), ints(n), ints(vocab),
                        floats(gradScale)));
    }

    /** AdamW hyperparameters as train/AdamW.java; weightDecay 0 for tensors that are not decayed (rank 1). */
    public record AdamWHyper(double lr, double beta1, double beta2, double eps, double weightDecay) {}

    /**
     * One AdamW update of n elements: param, m, v fp32 in place from grad fp32 scaled by gradScale (the clip
     * factor); step counts from 1; paramBf16 (nullable) receives the updated weights in bf16.
     */
    public void adamwStep(DeviceBuffer param, DeviceBuffer paramBf16, DeviceBuffer m, DeviceBuffer v, DeviceBuffer grad,
                          int n, AdamWHyper h, int step, float gradScale) {
        if (step < 1) throw new IllegalArgumentException("step " + step + " must count from 1");
        for (DeviceBuffer b : List.of(param, m, v, grad)) need(b, n * 4L, "adamw state");
        if (paramBf16 != null) need(paramBf16, n * 2L, "paramBf16");
        if (n == 0) return;
        launch(ADAMW, elementwiseBlocks(ceil(n, 4)), ELEMENTWISE_THREADS, 0,
                Pointer.to(ptr(param), nullable(paramBf16), ptr(m), ptr(v), ptr(grad), ints(n), floats((float) h.lr()),
                        floats((float) h.beta1()), floats((float) h.beta2()), floats((float) h.eps()),
                        floats((float) h.weightDecay()), ints(step), floats(gradScale)));
    }

    /**
     * total [1] fp64 += sum of grad[i]^2 over n fp32 elements, in an order fixed by n. Call it per gradient
     * in a fixed order after zeroing total; the global norm is sqrt(total).
     */
    public void addGradSumSquares(DeviceBuffer total, DeviceBuffer grad, int n) {
        need(total, 8, "total");
        need(grad, n * 4L, "grad");
        if (n == 0) return;
        int blocks = sumsqBlocks(n);
        try (DeviceBuffer partials = device.pool().allocate(blocks * 8L)) {
            launch(SUMSQ_PARTIAL, blocks, SUMSQ_THREADS, 0, Pointer.to(ptr(partials), ptr(grad), ints(n)));
            launch(SUMSQ_REDUCE, 1, SUMSQ_THREADS, 0, Pointer.to(ptr(total), ptr(partials), ints(blocks)));
        }
    }

    /**
     * Rotate-half RoPE in place on x [B, T, H, headDim] (dtype xType), channels [offset, offset + dims) of each
     * head, token t at position pos0 + t; inverse rotates back (the backward, on fp32 gradients).
     */
    public void rope(DeviceBuffer x, Dtype xType, int batch, int tokens, int heads, int headDim, int offset, int dims,
                     int pos0, double base, boolean inverse) {
        checkRope(headDim, offset, dims);
        need(x, (long) batch * tokens * heads * headDim * xType.bytes, "x");
        if (dims == 0 || batch == 0 || tokens == 0) return;
        launch(rope(xType), Math.multiplyExact(batch, tokens), ROPE_THREADS, 0,
                Pointer.to(ptr(x), ints(tokens), ints(heads), ints(headDim), ints(offset), ints(dims), ints(pos0),
                        floats((float) base), ints(inverse ? 1 : 0)));
    }

    /** y [n] bf16 = x [n] fp32 rounded to nearest even (flash backward's fp32 dQ/dK/dV into bf16 GEMM operands). */
    public void castToBf16(DeviceBuffer y, DeviceBuffer x, long n) {
        need(y, n * 2, "y");
        need(x, n * 4, "x");
        if (n == 0) return;
        launch(CAST_F32_BF16, elementwiseBlocks(ceil(n, 2)), ELEMENTWISE_THREADS, 0,
                Pointer.to(ptr(y), ptr(x), Pointer.to(new long[] {n})));
    }

    private static void need(DeviceBuffer b, long bytes, String name) {
        if (b.bytes() < bytes)
            throw new IllegalArgumentException(name + ": device buffer of " + b.bytes() + " bytes, the shape needs " + bytes);
    }

    private static Pointer nullable(DeviceBuffer b) {
        return b == null ? Pointer.to(new CUdeviceptr()) : ptr(b);
    }
}
