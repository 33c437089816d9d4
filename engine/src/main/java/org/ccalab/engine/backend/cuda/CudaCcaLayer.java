package org.ccalab.engine.backend.cuda;

import static org.ccalab.engine.backend.cuda.KernelArgs.floats;
import static org.ccalab.engine.backend.cuda.KernelArgs.ints;
import static org.ccalab.engine.backend.cuda.KernelArgs.longs;
import static org.ccalab.engine.backend.cuda.KernelArgs.ptr;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jcuda.Pointer;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.CcgqaConfig;

/**
 * The CCA / CCGQA attention layer (cca.md sections 2-4) on the GPU for training: a forward that keeps what the
 * backward needs, and the backward that produces dx and ADDS every parameter's gradient into fp32 buffers, the
 * same set {@link org.ccalab.engine.attention.cca.CompressedConvAttention} produces (checked against it by
 * {@link CudaCcaLayerCheck}). Letters: B batch, T tokens, E width, Hq / Hkv heads of D channels, C = (Hq + Hkv) D,
 * Dq = Hq D, Dk = Hkv D, NG = Hq + Hkv conv groups, U = T + k1 - 1 stage-1 positions, N = B T.
 *
 * <p>Weights: the q and k projections packed into one [C, E] matrix, the two value halves into one [Dk, E]
 * (current rows first), o_proj [E, Dq], all bf16; the conv weights and the temperature fp32
 * ({@link CcaPrologueWeights}, W1 repacked). Forward: 2 GEMMs, the prologue kernel, the value shift materialized
 * (the flash backward reads the shifted values), flash forward, the out GEMM. Backward (bench/layer_backward.py's
 * order, all on the backend's stream): o_proj GEMM grads, flash backward, value-shift backward, the prologue
 * backward (cca_prologue_bwd.cuh's kernels plus the grouped stage-2 conv as fp32 strided-batched cuBLAS GEMMs with
 * TF32 products, the depthwise conv's parameter gradients in cca_layer_bwd.cuh), the down-projection GEMM grads.
 * The prologue backward has no float atomics (session 12): the key temperature's and the depthwise conv's gradients
 * are partial sums per token or per chunk of rows, summed in a fixed order, so with the flash backward's ordered-add
 * kernels (the run's {@code deterministic} option) two backward passes give the same bits.
 * Scratch of the backward comes from the pool (cached after the first step). Not thread-safe.
 */
public final class CudaCcaLayer implements AutoCloseable {
    static final String CONV0 = "cca_bwd_conv0", DZ = "cca_bwd_dz", VALUE_SHIFT_BWD = "value_shift_bwd", DW0 = "cca_bwd_dw0",
            SUM_CHUNKS = "cca_bwd_sum_chunks", SUM_ROWS = "cca_bwd_sum_rows";
    static final int DW0_THREADS = 128, SUM_THREADS = 256;

    static String head(int headDim) {
        return "cca_bwd_head_hd" + headDim;
    }

    private final CudaBackend cuda;
    private final Cublas blas;
    private final CcgqaConfig cfg;
    private final int e, hq, hkv, d, c, dq, dk, ng, k0, k1, batch, tokens, rows, uLen;
    private final boolean valueShift;
    private final AttentionShape shape;
    private final CudaBackend.PrologueOptions options;
    private final OwnedBuffers owned;
    // weights: the q|k and current|delayed value projections as row blocks of [C, E] / [Dk, E] (one buffer each
    // when the layer owns them, separate buffers from a trainer); bf16
    private final Pair wqk, wv;
    private final DeviceBuffer wo;                    // bf16 [E, Dq]
    private final CcaPrologueWeights conv;            // fp32
    // gradients, fp32, same layouts (gW1t as w1t: [NG, k1, D_in, D_out])
    private final Pair gWqk, gWv;
    private final DeviceBuffer gWo, gW0, gB0, gW1t, gB1, gTheta;
    private final DeviceBuffer ownedGradQk, ownedGradV; // the packed gradient buffers when the layer owns them, else null
    // saved by forward
    private final DeviceBuffer z, y, vs, qh, kh, o, lse;
    private final DeviceBuffer oLo;                   // o's rounding residual for the backward's Dv, or null (RESIDUAL)
    private final DeviceBuffer ones;                  // fp32 ones for the bias broadcasts and column sums
    private DeviceBuffer x;                           // the caller's input of the last forward (not owned)

    /**
     * Uploads the parameters (values under the CPU layer's names and layouts: q_proj, k_proj, v_proj_current,
     * v_proj_delayed, o_proj weights rounded to bf16, conv weights / biases and temp to fp32) and allocates the
     * saved activations for {@code batch} sequences of {@code tokens} tokens; gradients start at zero.
     */
    public CudaCcaLayer(CudaBackend cuda, CcgqaConfig cfg, Map<String, double[]> params, int batch, int tokens) {
        this(cuda, cfg, batch, tokens, layer -> layer.upload(params));
    }

    /**
     * A layer on a trainer's device tensors (values and fp32 gradients it does not own): the projections as
     * separate [out, E] bf16 matrices, the conv weights and the temperature fp32 (W1 already repacked, its
     * gradient in the same layout). Allocates only the saved activations.
     */
    public record Tensors(DeviceBuffer wq, DeviceBuffer wk, DeviceBuffer wvCurrent, DeviceBuffer wvDelayed, DeviceBuffer wo,
                          CcaPrologueWeights conv, DeviceBuffer gWq, DeviceBuffer gWk, DeviceBuffer gWvCurrent,
                          DeviceBuffer gWvDelayed, DeviceBuffer gWo, DeviceBuffer gW0, DeviceBuffer gB0, DeviceBuffer gW1t,
                          DeviceBuffer gB1, DeviceBuffer gTheta) {}

    public CudaCcaLayer(CudaBackend cuda, CcgqaConfig cfg, Tensors t, int batch, int tokens) {
        this(cuda, cfg, batch, tokens, layer -> layer.adopt(t));
    }

    /**
     * The weights and gradients a layer works on, and the packed gradient buffers when it owns them (else null):
     * uploaded from the CPU layer's parameters or adopted from a trainer's tensors.
     */
    private record Parameters(Pair wqk, Pair wv, DeviceBuffer wo, CcaPrologueWeights conv, Pair gWqk, Pair gWv,
                              DeviceBuffer gWo, DeviceBuffer gW0, DeviceBuffer gB0, DeviceBuffer gW1t, DeviceBuffer gB1,
                              DeviceBuffer gTheta, DeviceBuffer ownedGradQk, DeviceBuffer ownedGradV) {}

    /**
     * The geometry from {@code cfg}, then the parameters from {@code parameters} (called once the geometry is set)
     * and the saved activations; what the layer allocated is freed if any step fails.
     */
    private CudaCcaLayer(CudaBackend cuda, CcgqaConfig cfg, int batch, int tokens,
                         java.util.function.Function<CudaCcaLayer, Parameters> parameters) {
        this.cuda = cuda;
        this.owned = new OwnedBuffers(cuda);
        this.blas = cuda.cublas();
        this.cfg = cfg;
        this.e = cfg.dModel();
        this.hq = cfg.nQHeads();
        this.hkv = cfg.nKvHeads();
        this.d = cfg.headDim();
        this.dq = hq * d;
        this.dk = hkv * d;
        this.c = dq + dk;
        this.ng = hq + hkv;
        this.k0 = cfg.conv().convSeqKernel();
        this.k1 = cfg.conv().convChannelKernel();
        this.batch = batch;
        this.tokens = tokens;
        this.rows = batch * tokens;
        this.uLen = tokens + k1 - 1;
        this.valueShift = cfg.conv().valueShift();
        this.shape = new AttentionShape(batch, tokens, hq, hkv, d);
        if (!shape.hasBackward())
            throw new InvalidConfigException("variant.headDim", "the CUDA CCA layer needs headDim 64, 128 or 256 (flash backward and"
                    + " prologue kernels), got " + d);
        var rope = cfg.conv().rope();
        this.options = new CudaBackend.PrologueOptions(rope.rotaryDims(d), rope.base(), cfg.conv().keyTemperature(),
                cfg.conv().normEps(), cfg.conv().qkMean());
        try {
            Parameters p = parameters.apply(this);
            this.wqk = p.wqk();
            this.wv = p.wv();
            this.wo = p.wo();
            this.conv = p.conv();
            this.gWqk = p.gWqk();
            this.gWv = p.gWv();
            this.gWo = p.gWo();
            this.gW0 = p.gW0();
            this.gB0 = p.gB0();
            this.gW1t = p.gW1t();
            this.gB1 = p.gB1();
            this.gTheta = p.gTheta();
            this.ownedGradQk = p.ownedGradQk();
            this.ownedGradV = p.ownedGradV();
            DeviceBuffer[] a = activations();
            this.z = a[0];
            this.y = a[1];
            this.vs = a[2];
            this.qh = a[3];
            this.kh = a[4];
            this.o = a[5];
            this.lse = a[6];
            this.ones = a[7];
            this.oLo = a[8];
        } catch (RuntimeException ex) {
            close();
            throw ex;
        }
    }

    /** The CPU layer's parameters uploaded (owned), the gradients zeroed (owned, the projections' packed). */
    private Parameters upload(Map<String, double[]> params) {
        int cur = dk - dk / 2;
        Pair wqk = Pair.packed(owned.keep(cuda.uploadBf16(bf16(concat(get(params, "q_proj.weight", (long) dq * e),
                get(params, "k_proj.weight", (long) dk * e))))), dq, dk, (long) e * 2);
        Pair wv = Pair.packed(owned.keep(cuda.uploadBf16(bf16(concat(get(params, "v_proj_current.weight", (long) cur * e),
                get(params, "v_proj_delayed.weight", (long) (dk / 2) * e))))), cur, dk / 2, (long) e * 2);
        DeviceBuffer wo = owned.keep(cuda.uploadBf16(bf16(get(params, "o_proj.weight", (long) e * dq))));
        float[] w1 = toFloats(get(params, "conv_qk_grouped.weight", (long) c * d * k1));
        var conv = new CcaPrologueWeights(
                owned.keep(cuda.uploadFloats(toFloats(get(params, "conv_qk_depthwise.weight", (long) c * k0)))),
                owned.keep(cuda.uploadFloats(toFloats(get(params, "conv_qk_depthwise.bias", c)))),
                owned.keep(cuda.uploadFloats(CcaPrologueWeights.repackW1(w1, ng, d, k1))),
                owned.keep(cuda.uploadFloats(toFloats(get(params, "conv_qk_grouped.bias", c)))),
                owned.keep(cuda.uploadFloats(toFloats(get(params, "temp", hkv)))), k0, k1);
        DeviceBuffer gradQk = owned.zeroed((long) c * e * 4);
        DeviceBuffer gradV = owned.zeroed((long) dk * e * 4);
        return new Parameters(wqk, wv, wo, conv, Pair.packed(gradQk, dq, dk, (long) e * 4),
                Pair.packed(gradV, cur, dk / 2, (long) e * 4), owned.zeroed((long) e * dq * 4),
                owned.zeroed((long) c * k0 * 4), owned.zeroed(c * 4L), owned.zeroed((long) c * d * k1 * 4), owned.zeroed(c * 4L),
                owned.zeroed(hkv * 4L), gradQk, gradV);
    }

    /** A trainer's tensors, checked for size (not owned). */
    private Parameters adopt(Tensors t) {
        int cur = dk - dk / 2;
        need(t.wq(), (long) dq * e * 2, "wq");
        need(t.wk(), (long) dk * e * 2, "wk");
        need(t.wvCurrent(), (long) cur * e * 2, "wvCurrent");
        need(t.wvDelayed(), (long) (dk / 2) * e * 2, "wvDelayed");
        need(t.wo(), (long) e * dq * 2, "wo");
        need(t.conv().w1t(), (long) c * d * k1 * 4, "w1t");
        need(t.gW1t(), (long) c * d * k1 * 4, "gW1t");
        need(t.gWq(), (long) dq * e * 4, "gWq");
        need(t.gWk(), (long) dk * e * 4, "gWk");
        need(t.gWo(), (long) e * dq * 4, "gWo");
        return new Parameters(new Pair(t.wq().address(), dq, t.wk().address(), dk, (long) e * 2),
                new Pair(t.wvCurrent().address(), cur, t.wvDelayed().address(), dk / 2, (long) e * 2), t.wo(), t.conv(),
                new Pair(t.gWq().address(), dq, t.gWk().address(), dk, (long) e * 4),
                new Pair(t.gWvCurrent().address(), cur, t.gWvDelayed().address(), dk / 2, (long) e * 4), t.gWo(), t.gW0(),
                t.gB0(), t.gW1t(), t.gB1(), t.gTheta(), null, null);
    }

    /**
     * Whether the forward also writes o's rounding residual and the backward forms Dv = rowsum(dO o o) from o + oLo
     * (CudaBackend.flashForward): on by default; {@code -Dccalab.train.oResidual=false} gives the plain bf16 o of
     * FA2 / cuDNN (the q/k-path gradients then sit on bf16's floor where the softmax is near one-hot: 5e-2 to 0.8
     * from float64 in CudaCcaLayerGpuTest's sharp cases; docs/perf-log.md, "Session 4, prec"). Read per layer.
     */
    static final String RESIDUAL = "ccalab.train.oResidual";

    /** z, y, shifted values, q̂, k̂, o, lse (saved by forward), the ones vector and o's residual (or null), owned. */
    private DeviceBuffer[] activations() {
        DeviceBuffer yb = owned.keep(cuda.allocate((long) rows * dk * 2));
        int n = Math.max(Math.max(rows, batch * uLen), batch * W1_SPLIT);
        float[] one = new float[n];
        java.util.Arrays.fill(one, 1f);
        return new DeviceBuffer[] {owned.keep(cuda.allocate((long) rows * c * 2)), yb,
                valueShift ? owned.keep(cuda.allocate((long) rows * dk * 2)) : yb, owned.keep(cuda.allocate(shape.qElements() * 2)),
                owned.keep(cuda.allocate(shape.kvElements() * 2)), owned.keep(cuda.allocate(shape.qElements() * 2)),
                owned.keep(cuda.allocate((long) batch * hq * tokens * 4)), owned.keep(cuda.uploadFloats(one)),
                Boolean.parseBoolean(System.getProperty(RESIDUAL, "true")) ? owned.keep(cuda.allocate(shape.qElements() * 2)) : null};
    }

    /**
     * Two row blocks [n1, E] and [n2, E] of one projection (raw device addresses, rowBytes per row): packed when
     * the second follows the first in memory, then each GEMM over them is one call.
     */
    record Pair(long first, int n1, long second, int n2, long rowBytes) {
        static Pair packed(DeviceBuffer b, int n1, int n2, long rowBytes) {
            return new Pair(b.address(), n1, b.address() + n1 * rowBytes, n2, rowBytes);
        }

        boolean isPacked() {
            return second == first + n1 * rowBytes;
        }
    }

    public CcgqaConfig config() {
        return cfg;
    }

    public AttentionShape shape() {
        return shape;
    }

    // ---------------------------------------------------------------- forward

    /**
     * out [B, T, E] bf16 from x [B, T, E] bf16, causal. Keeps x (by reference: it must hold the same values until
     * {@link #backward}) and the activations the backward reads.
     */
    public void forward(DeviceBuffer out, DeviceBuffer x) {
        need(x, (long) rows * e * 2, "x");
        need(out, (long) rows * e * 2, "out");
        project(z, x, wqk, rows);
        project(y, x, wv, rows);
        cuda.ccaPrologue(qh, kh, z, conv, shape, options);
        if (valueShift) cuda.valueShift(vs, y, batch, tokens, dk);
        cuda.flashForward(o, oLo, lse, qh, kh, vs, shape, true, hkv);
        cuda.gemmNt(out, o, wo, rows, e, dq);
        this.x = x;
    }

    // ---------------------------------------------------------------- backward

    /** Chunks per sequence of the dW1 reduction (split-K: NG output tiles alone leave most SMs idle; run 18). */
    static final int W1_SPLIT = 16;

    /** How many chunks the dW1 GEMM splits each sequence's T rows into. */
    static int w1Split(int tokens) {
        return tokens % W1_SPLIT == 0 && tokens >= 4096 ? W1_SPLIT : 1;
    }

    /**
     * dx [B, T, E] bf16 from dOut [B, T, E] bf16 (the gradient at this forward's out); ADDS the parameter
     * gradients into {@link #gradients}' buffers.
     */
    public void backward(DeviceBuffer dx, DeviceBuffer dOut) {
        if (x == null) throw new IllegalStateException("backward before forward");
        need(dx, (long) rows * e * 2, "dx");
        need(dOut, (long) rows * e * 2, "dOut");
        List<DeviceBuffer> tmp = new ArrayList<>();
        try {
            // 9. o_proj: dWo += dOut^T o; dO = dOut Wo
            DeviceBuffer dO = scratch(tmp, (long) rows * dq * 2);
            blas.linearWeightGrad(gWo, dOut, o, rows, e, dq);
            blas.linearInputGrad(dO, dOut, wo, rows, dq, e, false);
            // 8. attention (fp32 gradients of q̂, k̂ and the shifted values)
            DeviceBuffer dq32 = scratch(tmp, shape.qElements() * 4), dk32 = scratch(tmp, shape.kvElements() * 4);
            DeviceBuffer dv32 = scratch(tmp, shape.kvElements() * 4);
            cuda.flashBackward(dq32, dk32, dv32, qh, kh, vs, o, oLo, lse, dO, shape, true);
            // 5. value shift
            DeviceBuffer dy = scratch(tmp, (long) rows * dk * 2);
            if (valueShift) {
                long n = (long) rows * dk;
                launch(VALUE_SHIFT_BWD, new int[] {(int) Math.min(4096, (n + 255) / 256), 1, 1}, 256,
                        Pointer.to(ptr(dy), ptr(dv32), ints(batch), ints(tokens), ints(dk)));
            } else {
                cuda.trainingKernels().castToBf16(dy, dv32, (long) rows * dk);
            }
            // 2-7. the prologue
            DeviceBuffer dz = scratch(tmp, (long) rows * c * 2);
            prologueBackward(tmp, dz, dq32, dk32);
            // 1. down-projections
            inputGrad(dx, dz, wqk, false);
            inputGrad(dx, dy, wv, true);
            weightGrad(gWqk, dz, x);
            weightGrad(gWv, dy, x);
        } finally {
            tmp.forEach(DeviceBuffer::close);
        }
    }

    /** dz [B, T, C] bf16 from dq̂ [B, T, Hq, D], dk̂ [B, T, Hkv, D] fp32; adds the conv and temperature gradients. */
    private void prologueBackward(List<DeviceBuffer> tmp, DeviceBuffer dz, DeviceBuffer dq32, DeviceBuffer dk32) {
        long bt = rows, dd = (long) d * d;
        // recompute u = stage-1 output [B, U, C]
        DeviceBuffer u = scratch(tmp, (long) batch * uLen * c * 4);
        long nu = (long) batch * uLen * c;
        launch(CONV0, new int[] {(int) Math.min(8192, (nu + 255) / 256), 1, 1}, 256,
                Pointer.to(ptr(u), ptr(z), ptr(conv.w0()), ptr(conv.b0()), ints(batch), ints(tokens), ints(c), ints(k0), ints(k1)));
        // recompute s [NG, N, D] = b1 + sum_j u[:, j:j+T] W1_j (per group): the bias as a rank-1 product, then one
        // group-batched GEMM per (sequence, tap). Row-major [T, D] with row stride ld is column-major D x T.
        DeviceBuffer s = scratch(tmp, (long) ng * bt * d * 4);
        gemm32(0, 0, d, (int) bt, 1, addr(conv.b1()), d, d, addr(ones), 1, 0, addr(s), d, bt * d, ng, false);
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < k1; j++)
                gemm32(0, 0, d, tokens, d, addr(conv.w1t()) + j * dd * 4, d, k1 * dd, addr(u) + ((long) b * uLen + j) * c * 4, c, d,
                        addr(s) + (long) b * tokens * d * 4, d, bt * d, ng, true);
        // the head kernel: dS [NG, N, D], dZd [B, T, C] (the q-k mean's direct path), dtheta per token [N, Hkv],
        // then summed over the tokens in a fixed order into the temperature's gradient
        DeviceBuffer dS = scratch(tmp, (long) ng * bt * d * 4), dZd = scratch(tmp, (long) rows * c * 4);
        DeviceBuffer dThetaRows = scratch(tmp, bt * hkv * 4);
        launch(head(d), new int[] {tokens, hkv, batch}, d,
                Pointer.to(ptr(dS), ptr(dZd), ptr(dThetaRows), ptr(s), ptr(z), ptr(dq32), ptr(dk32), ptr(conv.theta()),
                        ints(tokens), ints(hq), ints(hkv), ints(options.rotaryDims()), floats((float) options.ropeBase()),
                        ints(options.temperature().ordinal()), floats((float) options.normEps()), ints(options.qkMean() ? 1 : 0)));
        launch(SUM_ROWS, new int[] {hkv, 1, 1}, SUM_THREADS, Pointer.to(ptr(gTheta), ptr(dThetaRows), longs(bt), ints(hkv)));
        // db1 += column sums of dS per group
        gemm32(0, 0, d, 1, (int) bt, addr(dS), d, bt * d, addr(ones), (int) bt, 0, addr(gB1), d, d, ng, true);
        // dW1_j += sum over tokens of u[t + j]^T dS[t] (per group): split-K over chunks of each sequence, then the
        // partial products summed by one more GEMM against ones
        int split = w1Split(tokens), chunk = tokens / split;
        boolean direct = split == 1 && batch == 1;
        DeviceBuffer part = direct ? null : scratch(tmp, (long) ng * k1 * batch * split * dd * 4);
        for (int g = 0; g < ng; g++)
            for (int j = 0; j < k1; j++)
                for (int b = 0; b < batch; b++) {
                    long dst = direct ? addr(gW1t) + ((long) g * k1 + j) * dd * 4
                            : addr(part) + (((long) g * k1 + j) * batch * split + (long) b * split) * dd * 4;
                    gemm32(0, 1, d, d, chunk, addr(dS) + ((long) g * bt + (long) b * tokens) * d * 4, d, (long) chunk * d,
                            addr(u) + (((long) b * uLen + j) * c + (long) g * d) * 4, c, (long) chunk * c, dst, d, dd, split, direct);
                }
        if (!direct)
            gemm32(0, 0, (int) dd, 1, batch * split, addr(part), (int) dd, batch * split * dd, addr(ones), batch * split, 0,
                    addr(gW1t), (int) dd, dd, ng * k1, true);
        // du [B, U, C] = sum_j (rows t + j) dS W1_j^T (per group)
        DeviceBuffer du = scratch(tmp, (long) batch * uLen * c * 4);
        cuda.zero(du);
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < k1; j++)
                gemm32(1, 0, d, tokens, d, addr(conv.w1t()) + j * dd * 4, d, k1 * dd, addr(dS) + (long) b * tokens * d * 4, d, bt * d,
                        addr(du) + ((long) b * uLen + j) * c * 4, c, d, ng, true);
        // dz = dZd + the transposed depthwise conv of du; dw0, db0 += the depthwise conv's parameter gradients
        long nz = (long) rows * c;
        launch(DZ, new int[] {(int) Math.min(8192, (nz + 255) / 256), 1, 1}, 256,
                Pointer.to(ptr(dz), ptr(dZd), ptr(du), ptr(conv.w0()), ints(batch), ints(tokens), ints(c), ints(k0), ints(k1)));
        // (per chunk of rows, then the chunks summed in order into dw0 [C, k0] and db0 [C])
        long urows = (long) batch * uLen;
        int per = (int) Math.max(32, (urows + 255) / 256), chunks = (int) ((urows + per - 1) / per);
        long partStride = (long) c * (k0 + 1);
        DeviceBuffer dw0Part = scratch(tmp, chunks * partStride * 4);
        launch(DW0, new int[] {(c + DW0_THREADS - 1) / DW0_THREADS, chunks, 1}, DW0_THREADS,
                Pointer.to(ptr(dw0Part), ptr(du), ptr(z), ints(batch), ints(tokens), ints(c), ints(k0), ints(k1), ints(per)));
        sumChunks(gW0, Pointer.to(dw0Part.pointer()), chunks, c * k0, partStride);
        sumChunks(gB0, Pointer.to(dw0Part.pointer().withByteOffset((long) c * k0 * 4)), chunks, c, partStride);
    }

    /** out[i] += sum over the chunks, in order, of part[chunk * stride + i], i < n (cca_bwd_sum_chunks). */
    private void sumChunks(DeviceBuffer out, Pointer part, int chunks, int n, long stride) {
        launch(SUM_CHUNKS, new int[] {(n + SUM_THREADS - 1) / SUM_THREADS, 1, 1}, SUM_THREADS,
                Pointer.to(ptr(out), part, ints(chunks), ints(n), longs(stride)));
    }

    // ---------------------------------------------------------------- decode

    /**
     * One layer's decode state for the layer's batch (cca.md section 3): K/V caches [B, capacity, Hkv, D] (keys
     * post-prologue, values already shifted), the conv window [B, P, C] of raw packed projections and the
     * value-shift state [B, Dk/2] = W_vd x_{t-1}; zeros at the start. {@code length} tokens are cached.
     */
    public final class DecodeState implements AutoCloseable {
        final int capacity;
        final DeviceBuffer kCache, vCache, window, vState, zt, vc, vd, q, att;
        int length;

        private DecodeState(int capacity) {
            this.capacity = capacity;
            int p = k0 - 1 + k1 - 1;
            AttentionShape cache = new AttentionShape(batch, capacity, hq, hkv, d);
            this.kCache = cuda.allocate(cache.kvElements() * 2);
            this.vCache = cuda.allocate(cache.kvElements() * 2);
            this.window = cuda.allocate(Math.max(4, (long) batch * p * c * 2));
            this.vState = cuda.allocate((long) batch * (dk / 2) * 2);
            this.zt = cuda.allocate((long) batch * c * 2);
            this.vc = cuda.allocate((long) batch * (dk / 2) * 2);
            this.vd = cuda.allocate((long) batch * (dk / 2) * 2);
            this.q = cuda.allocate((long) batch * dq * 2);
            this.att = cuda.allocate((long) batch * dq * 2);
            cuda.zero(window);
            cuda.zero(vState);
        }

        public int length() {
            return length;
        }

        /** The K and V caches, for a benchmark that fills them with random rows. */
        public DeviceBuffer keys() {
            return kCache;
        }

        public DeviceBuffer values() {
            return vCache;
        }

        /** Declares the first {@code rows} cache rows valid (a benchmark fills them with random rows). */
        public void assumeCached(int rows) {
            if (rows < 0 || rows >= capacity) throw new IllegalArgumentException("rows " + rows + " outside [0, " + capacity + ")");
            length = rows;
        }

        @Override
        public void close() {
            for (DeviceBuffer b : List.of(kCache, vCache, window, vState, zt, vc, vd, q, att)) b.close();
        }
    }

    /** A zero decode state for up to {@code capacity} tokens per sequence; needs the value shift (the decode kernel's). */
    public DecodeState newDecodeState(int capacity) {
        if (!valueShift)
            throw new InvalidConfigException("variant.conv.valueShift", "the CUDA CCA decode step implements the value shift;"
                    + " a layer without it has no GPU decode");
        int g = hq / hkv;
        if (g != 1 && g != 2 && g != 4 && g != 8)
            throw new InvalidConfigException("variant.nKvHeads", "qHeads/kvHeads = " + g + " has no decode kernel (1, 2, 4 or 8)");
        return new DecodeState(capacity);
    }

    /**
     * One token per sequence at position {@code st.length()}: y [B, E] bf16 from x_t [B, E] bf16 (projections,
     * {@link CudaBackend#ccaDecodeStep}, split-KV decode over the cache, o_proj); the state advances one token.
     */
    public void decode(DeviceBuffer yt, DeviceBuffer xt, DecodeState st) {
        int pos = st.length;
        if (pos >= st.capacity) throw new IllegalStateException("decode state full: " + st.capacity + " tokens");
        need(xt, (long) batch * e * 2, "xt");
        need(yt, (long) batch * e * 2, "yt");
        int half = dk / 2;
        project(st.zt, xt, wqk, batch);
        blas.gemmEx(1, 0, half, batch, e, wv.first(), e, xt.address(), e, st.vc.address(), false, half, false);
        blas.gemmEx(1, 0, half, batch, e, wv.second(), e, xt.address(), e, st.vd.address(), false, half, false);
        cuda.ccaDecodeStep(st.q, st.kCache, st.vCache, st.window, st.vState, st.zt, st.vc, st.vd, conv,
                new AttentionShape(batch, st.capacity, hq, hkv, d), pos, options);
        cuda.decode(st.att, st.q, st.kCache, st.vCache, batch, pos + 1, st.capacity, hq, hkv, d);
        cuda.gemmNt(yt, st.att, wo, batch, e, dq);
        st.length = pos + 1;
    }

    // ---------------------------------------------------------------- gradients

    /** Zeroes every parameter gradient (the backward adds into them). */
    public void zeroGradients() {
        if (ownedGradQk == null) throw new IllegalStateException("the gradients are the trainer's buffers: it zeroes them");
        for (DeviceBuffer g : List.of(ownedGradQk, ownedGradV, gWo, gW0, gB0, gW1t, gB1, gTheta)) cuda.zero(g);
    }

    /**
     * The accumulated parameter gradients under the CPU layer's names and layouts (float64 copies of the fp32
     * buffers; W1 back in PyTorch's [C, D, k1], the packed projections split).
     */
    public Map<String, double[]> gradients() {
        if (ownedGradQk == null) throw new IllegalStateException("the gradients are the trainer's buffers: read them there");
        Map<String, double[]> g = new LinkedHashMap<>();
        double[] qk = cuda.downloadDoubles(ownedGradQk, c * e);
        g.put("q_proj.weight", java.util.Arrays.copyOfRange(qk, 0, dq * e));
        g.put("k_proj.weight", java.util.Arrays.copyOfRange(qk, dq * e, c * e));
        double[] v = cuda.downloadDoubles(ownedGradV, dk * e);
        int cur = dk - dk / 2;
        g.put("v_proj_current.weight", java.util.Arrays.copyOfRange(v, 0, cur * e));
        g.put("v_proj_delayed.weight", java.util.Arrays.copyOfRange(v, cur * e, dk * e));
        g.put("conv_qk_depthwise.weight", cuda.downloadDoubles(gW0, c * k0));
        g.put("conv_qk_depthwise.bias", cuda.downloadDoubles(gB0, c));
        g.put("conv_qk_grouped.weight", CudaBackend.widen(unpackW1(cuda.downloadFloats(gW1t, c * d * k1), ng, d, k1)));
        g.put("conv_qk_grouped.bias", cuda.downloadDoubles(gB1, c));
        g.put("temp", cuda.downloadDoubles(gTheta, hkv));
        g.put("o_proj.weight", cuda.downloadDoubles(gWo, e * dq));
        return g;
    }

    /** The inverse of {@link CcaPrologueWeights#repackW1}: [groups, k1, D_in, D_out] -> PyTorch's [C, D, k1]. */
    public static float[] unpackW1(float[] w1t, int groups, int headDim, int k1) {
        int dd = headDim;
        if (w1t.length != groups * dd * dd * k1)
            throw new IllegalArgumentException("w1t has " + w1t.length + " values, expected groups*D*D*k1 = " + groups * dd * dd * k1);
        float[] out = new float[w1t.length];
        for (int g = 0; g < groups; g++)
            for (int o = 0; o < dd; o++)
                for (int i = 0; i < dd; i++)
                    for (int m = 0; m < k1; m++)
                        out[((g * dd + o) * dd + i) * k1 + m] = w1t[((g * k1 + m) * dd + i) * dd + o];
        return out;
    }

    // ---------------------------------------------------------------- GEMMs (cuBLAS column-major)

    /** out [n, n1 + n2] bf16 = x [n, E] [W1 ; W2]^T: one GEMM when packed, else one per block (column offset). */
    private void project(DeviceBuffer out, DeviceBuffer x, Pair w, int n) {
        int width = w.n1() + w.n2();
        if (w.isPacked()) {
            blas.gemmEx(1, 0, width, n, e, w.first(), e, x.address(), e, out.address(), false, width, false);
            return;
        }
        blas.gemmEx(1, 0, w.n1(), n, e, w.first(), e, x.address(), e, out.address(), false, width, false);
        blas.gemmEx(1, 0, w.n2(), n, e, w.second(), e, x.address(), e, out.address() + (long) w.n1() * 2, false, width, false);
    }

    /** [dW1 ; dW2] [out, E] fp32 += dy [N, n1 + n2]^T x [N, E] (bf16 operands). */
    private void weightGrad(Pair dw, DeviceBuffer dy, DeviceBuffer in) {
        int width = dw.n1() + dw.n2();
        if (dw.isPacked()) {
            blas.gemmEx(0, 1, e, width, rows, in.address(), e, dy.address(), width, dw.first(), true, e, true);
            return;
        }
        blas.gemmEx(0, 1, e, dw.n1(), rows, in.address(), e, dy.address(), width, dw.first(), true, e, true);
        blas.gemmEx(0, 1, e, dw.n2(), rows, in.address(), e, dy.address() + (long) dw.n1() * 2, width, dw.second(), true, e, true);
    }

    /** dx [N, E] bf16 (+)= dy [N, n1 + n2] [W1 ; W2]. */
    private void inputGrad(DeviceBuffer dx, DeviceBuffer dy, Pair w, boolean accumulate) {
        int width = w.n1() + w.n2();
        if (w.isPacked()) {
            blas.gemmEx(0, 0, e, rows, width, w.first(), e, dy.address(), width, dx.address(), false, e, accumulate);
            return;
        }
        blas.gemmEx(0, 0, e, rows, w.n1(), w.first(), e, dy.address(), width, dx.address(), false, e, accumulate);
        blas.gemmEx(0, 0, e, rows, w.n2(), w.second(), e, dy.address() + (long) w.n1() * 2, width, dx.address(), false, e, true);
    }

    /**
     * The stage-2 conv's GEMMs multiply in TF32 (as bench/layer_backward.py's torch.bmm with allow_tf32) unless
     * {@code -Dccalab.cca.backward.tf32=false} asks for full fp32 products (a precision lab switch).
     */
    static final boolean TF32 = Boolean.parseBoolean(System.getProperty("ccalab.cca.backward.tf32", "true"));

    private void gemm32(int opA, int opB, int m, int n, int k, long a, int lda, long strideA, long b, int ldb, long strideB,
                        long cAddr, int ldc, long strideC, int count, boolean accumulate) {
        blas.gemmStridedBatched(opA, opB, m, n, k, a, lda, strideA, b, ldb, strideB, cAddr, ldc, strideC, count, true, accumulate,
                TF32);
    }

    // ---------------------------------------------------------------- helpers

    private void launch(String name, int[] grid, int block, Pointer args) {
        cuda.kernels().launch(name, grid, block, 0, cuda.device().stream(), args);
    }

    private DeviceBuffer scratch(List<DeviceBuffer> tmp, long bytes) {
        DeviceBuffer b = cuda.allocate(bytes);
        tmp.add(b);
        return b;
    }

    private static double[] get(Map<String, double[]> params, String name, long n) {
        double[] v = params.get(name);
        if (v == null) throw new IllegalArgumentException("no parameter " + name + " (have " + params.keySet() + ")");
        if (v.length != n) throw new IllegalArgumentException(name + " has " + v.length + " values, the shape needs " + n);
        return v;
    }

    private static double[] concat(double[] a, double[] b) {
        double[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static short[] bf16(double[] v) {
        short[] h = new short[v.length];
        for (int i = 0; i < v.length; i++) h[i] = Bf16.fromFloat((float) v[i]);
        return h;
    }

    private static float[] toFloats(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return f;
    }

    private static long addr(DeviceBuffer b) {
        return b.address();
    }

    private static void need(DeviceBuffer b, long bytes, String name) {
        if (b.bytes() < bytes)
            throw new IllegalArgumentException(name + ": device buffer of " + b.bytes() + " bytes, the layer needs " + bytes);
    }

    @Override
    public void close() {
        owned.close();
    }
}
