package org.ccalab.engine.backend.cuda;

import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;

import java.util.HashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.IntFunction;
import jcuda.Pointer;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;

/**
 * Launchers of the MLA kernels on the backend's stream (shapes and instance choice: {@link CudaMlaKernels}).
 * Letters as mla_layer.cuh: B batch, T tokens, Tmax cache capacity, H heads, DN / DR / DV head dims, DQK = DN + DR,
 * R = r_kv. Every launcher checks its buffers' sizes first and only enqueues; decode's split workspace comes
 * from the pool and goes back once queued (same stream: the next user runs after these kernels).
 */
public final class CudaMla {
    /** What the instance choice and the split rule read from device 0 (the device {@link CudaDevice} opens). */
    record Limits(int multiprocessors, int smemOptin, int smemPerMultiprocessor) {
        static Limits ofDevice0() {
            CUdevice dev = new CUdevice();
            cuDeviceGet(dev, 0);
            return new Limits(attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
                    attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN),
                    attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR));
        }

        private static int attribute(CUdevice dev, int attr) {
            int[] v = new int[1];
            cuDeviceGetAttribute(v, attr, dev);
            return v[0];
        }
    }

    /**
     * The prefill core's path at (d_qk, d_v) with mla_fwd / mla_bwd instances of their own. RULE: those, unless the
     * flash kernels at the padded head dim run on wgmma and the instance does not (then the padded core: d_qk 96 / d_v
     * 64 on the sm_90a image, session 13: 16k causal forward 248-303 vs 210 TF, backward 274-277 vs 142 TF on the
     * real work), or a deterministic backward is asked that only the padded kernel has; OWN / PADDED: always those
     * (the CLI times both).
     */
    enum CorePath { RULE, OWN, PADDED }

    private final KernelModule kernels;
    private final CudaDevice device;
    /** The flash kernels a prefill core without an mla_fwd / mla_bwd instance runs on, padded; null: none (tests). */
    private final CudaBackend flash;
    /** Which prefill core runs where (d_qk, d_v) has instances of its own ({@link #withCorePath}: timings). */
    private final CorePath corePath;
    private final Limits limits;
    private final boolean wgmmaBackward;
    private final BooleanSupplier deterministic;
    /** The fused merge's 64-bit arrival counter (2 ints) per (sequence, head group), at least n ints, zeroed once; null: no fused merge. */
    private final IntFunction<DeviceBuffer> spinCounters;

    CudaMla(CudaBackend cuda) {
        this(cuda.kernels(), cuda.device(), Limits.ofDevice0(), cuda.wgmmaBackward(), cuda::deterministicBackward,
                cuda::mlaSpinCounters, cuda);
    }

    CudaMla(KernelModule kernels, CudaDevice device, Limits limits) {
        this(kernels, device, limits, false, () -> false, null, null);
    }

    /**
     * wgmmaBackward: the backend's backward runs the wgmma kernels (ccalab.flash.backward; the sm_90a image);
     * deterministic: asked at each backward whether it must run the ordered-add kernel (the backend's default or the
     * run's option, CudaBackend#deterministicBackward); spinCounters: the decode's fused-merge counters (the backend's,
     * kept for the process: the counters keep counting), null to always split + combine.
     */
    CudaMla(KernelModule kernels, CudaDevice device, Limits limits, boolean wgmmaBackward, BooleanSupplier deterministic,
            IntFunction<DeviceBuffer> spinCounters, CudaBackend flash) {
        this(kernels, device, limits, wgmmaBackward, deterministic, spinCounters, flash, CorePath.RULE);
    }

    private CudaMla(KernelModule kernels, CudaDevice device, Limits limits, boolean wgmmaBackward,
                    BooleanSupplier deterministic, IntFunction<DeviceBuffer> spinCounters, CudaBackend flash,
                    CorePath corePath) {
        this.kernels = kernels;
        this.device = device;
        this.flash = flash;
        this.corePath = corePath;
        this.limits = limits;
        this.wgmmaBackward = wgmmaBackward;
        this.deterministic = deterministic;
        this.spinCounters = spinCounters;
    }

    /** This launcher with the prefill core's path fixed ({@link CorePath}): the CLI times both paths. */
    CudaMla withCorePath(CorePath path) {
        return new CudaMla(kernels, device, limits, wgmmaBackward, deterministic, spinCounters, flash, path);
    }

    /** The mla_fwd instance the forward runs at (d_qk, d_v), null where it runs padded ({@link CorePath}). */
    private CudaMlaKernels.FwdInstance forwardInstance(int qkDim, int vDim) {
        CudaMlaKernels.FwdInstance f = CudaMlaKernels.exactFwdInstance(qkDim, vDim, limits.smemOptin());
        if (f == null || corePath == CorePath.OWN) return f;
        if (corePath == CorePath.PADDED) return null;
        int d = CudaMlaKernels.paddedHeadDim(qkDim, vDim);  // the mla_fwd kernels are mma.sync
        boolean wgmmaPadded = d > 0 && flash != null
                && flash.flashVariant(paddedShape(1, 1, 1, d)) == CudaKernels.FlashVariant.WGMMA;
        return wgmmaPadded ? null : f;
    }

    /** The mla_bwd instance the backward runs at (d_qk, d_v), null where it runs padded ({@link CorePath}). */
    private CudaMlaKernels.BwdInstance backwardInstance(int qkDim, int vDim) {
        CudaMlaKernels.BwdInstance b = CudaMlaKernels.exactBwdInstance(qkDim, vDim, wgmmaBackward);
        if (b == null || corePath == CorePath.OWN) return b;
        if (corePath == CorePath.PADDED) return null;
        if (deterministic.getAsBoolean() && !b.hasDeterministic() && paddedDeterministic(qkDim, vDim)) return null;
        int d = CudaMlaKernels.paddedHeadDim(qkDim, vDim);
        boolean wgmmaPadded = d > 0 && flash != null
                && flash.backwardVariant(paddedShape(1, 1, 1, d)) == CudaKernels.BwdVariant.WGMMA;
        return !b.wgmma() && wgmmaPadded ? null : b;
    }

    /** The prefill core's backward instance this backend runs for (d_qk, d_v). */
    CudaMlaKernels.BwdInstance bwdInstance(int qkDim, int vDim) {
        return CudaMlaKernels.bwdInstance(qkDim, vDim, wgmmaBackward);
    }

    Limits limits() {
        return limits;
    }

    /**
     * The kernel the prefill core (or its backward) runs for (d_qk, d_v) here, as checks and timings name it: the
     * mla_fwd / mla_bwd instance, or the flash kernel it runs padded on, "(padded from d_qk .. / d_v ..)" appended.
     */
    String coreKernel(int qkDim, int vDim, boolean causal, boolean backward) {
        if (!backward) {
            CudaMlaKernels.FwdInstance f = forwardInstance(qkDim, vDim);
            if (f != null) return f.name(causal);
        } else {
            CudaMlaKernels.BwdInstance b = backwardInstance(qkDim, vDim);
            if (b != null) return deterministic.getAsBoolean() && b.hasDeterministic() ? b.deterministicName(causal) : b.name(causal);
        }
        int d = paddedDim(qkDim, vDim);
        AttentionShape s = paddedShape(1, 1, 1, d);
        String k = backward
                ? CudaKernels.flashBackward(d, causal, flash.backwardVariant(s), deterministic.getAsBoolean())
                : CudaKernels.flashForward(d, causal, flash.flashVariant(s));
        return k + " (padded from d_qk " + qkDim + " / d_v " + vDim + ")";
    }

    /** The prefill-core instance this device runs for (d_qk, d_v). */
    CudaMlaKernels.FwdInstance fwdInstance(int qkDim, int vDim) {
        return CudaMlaKernels.fwdInstance(qkDim, vDim, limits.smemOptin());
    }

    CudaMlaKernels.DecodeInstance decodeInstance(int latent, int ropeDim) {
        return CudaMlaKernels.decodeInstance(latent, ropeDim, limits.smemOptin());
    }

    /**
     * Prefill core ("MHA mode", mla.md section 2 step 5): o [B, T, H, DV] bf16 and lse [B, H, T] fp32 (natural
     * log) from q, k [B, T, H, DQK] and v [B, T, H, DV] bf16. (d_qk, d_v) without an mla_fwd instance, or whose
     * padded flash kernel runs on wgmma ({@link CorePath}), run on the flash kernels with the operands zero-padded to
     * their head dim ({@link CudaMlaKernels#paddedHeadDim}).
     */
    public void forward(DeviceBuffer o, DeviceBuffer lse, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v, int batch,
                        int tokens, int heads, int qkDim, int vDim, boolean causal, double scale) {
        forward(o, null, lse, q, k, v, batch, tokens, heads, qkDim, vDim, causal, scale);
    }

    /**
     * As above; where {@code oLo} is not null (training) it also receives o's rounding residual bf16(o - bf16(o))
     * [B, T, H, DV] for {@link #backward}'s Dv from o + oLo (CudaBackend.flashForward's residual).
     */
    public void forward(DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                        int batch, int tokens, int heads, int qkDim, int vDim, boolean causal, double scale) {
        positive(batch, tokens, heads);
        long rows = (long) batch * tokens * heads;
        need(o, rows * vDim * 2, "o");
        need(lse, rows * 4, "lse");
        need(q, rows * qkDim * 2, "q");
        need(k, rows * qkDim * 2, "k");
        need(v, rows * vDim * 2, "v");
        if (oLo != null) need(oLo, rows * vDim * 2, "oLo");
        CudaMlaKernels.FwdInstance f = forwardInstance(qkDim, vDim);
        if (f == null) {
            paddedForward(o, oLo, lse, q, k, v, batch, tokens, heads, qkDim, vDim, causal, scale);
            return;
        }
        launch(f.name(causal, oLo != null), new int[] {CudaMlaKernels.ceil(tokens, CudaMlaKernels.FWD_BM), heads, batch},
                new int[] {CudaMlaKernels.FWD_THREADS, 1, 1}, f.smem(), oLo != null
                        ? Pointer.to(ptr(o), ptr(lse), ptr(q), ptr(k), ptr(v), ints(tokens), ints(heads), floats(scale), ptr(oLo))
                        : Pointer.to(ptr(o), ptr(lse), ptr(q), ptr(k), ptr(v), ints(tokens), ints(heads), floats(scale)));
    }

    /**
     * Backward of the prefill core: dq, dk [B, T, H, DQK] and dv [B, T, H, DV] fp32 (zeroed here, then accumulated)
     * from dO [B, T, H, DV] bf16, the inputs q, k, v and the forward's o and lse (natural log, as {@link #forward}
     * writes it). Dv = rowsum(dO o O) goes through a pool buffer. Padded on the flash kernels as {@link #forward}
     * where (d_qk, d_v) has no mla_bwd instance, where its instance is mma.sync and the padded one wgmma (96 / 64 on
     * the sm_90a image), and where a deterministic backward is asked that only the padded kernel has ({@link CorePath}).
     */
    public void backward(DeviceBuffer dq, DeviceBuffer dk, DeviceBuffer dv, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                         DeviceBuffer o, DeviceBuffer lse, DeviceBuffer dO, int batch, int tokens, int heads, int qkDim,
                         int vDim, boolean causal, double scale) {
        backward(dq, dk, dv, q, k, v, o, null, lse, dO, batch, tokens, heads, qkDim, vDim, causal, scale);
    }

    /** As above, with Dv from o + oLo where {@code oLo} (the forward's residual of o) is not null. */
    public void backward(DeviceBuffer dq, DeviceBuffer dk, DeviceBuffer dv, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                         DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer dO, int batch, int tokens,
                         int heads, int qkDim, int vDim, boolean causal, double scale) {
        positive(batch, tokens, heads);
        long rows = (long) batch * tokens * heads;
        need(dq, rows * qkDim * 4, "dq");
        need(dk, rows * qkDim * 4, "dk");
        need(dv, rows * vDim * 4, "dv");
        need(q, rows * qkDim * 2, "q");
        need(k, rows * qkDim * 2, "k");
        need(v, rows * vDim * 2, "v");
        need(o, rows * vDim * 2, "o");
        need(dO, rows * vDim * 2, "dO");
        need(lse, rows * 4, "lse");
        if (oLo != null) need(oLo, rows * vDim * 2, "oLo");
        CudaMlaKernels.BwdInstance inst = backwardInstance(qkDim, vDim);
        boolean det = deterministic.getAsBoolean();
        if (inst == null) {
            paddedBackward(dq, dk, dv, q, k, v, o, oLo, lse, dO, batch, tokens, heads, qkDim, vDim, causal, scale);
            return;
        }
        device.zero(dq, rows * qkDim * 4);
        device.zero(dk, rows * qkDim * 4);
        device.zero(dv, rows * vDim * 4);
        try (DeviceBuffer dvec = device.pool().allocate(rows * 4)) {
            launch(inst.preprocessName(oLo != null), new int[] {CudaMlaKernels.ceil(rows, 8), 1, 1},
                    new int[] {CudaKernels.BWD_PRE_THREADS, 1, 1}, 0, oLo != null
                            ? Pointer.to(ptr(dvec), ptr(o), ptr(dO), ints(batch), ints(tokens), ints(heads), ptr(oLo))
                            : Pointer.to(ptr(dvec), ptr(o), ptr(dO), ints(batch), ints(tokens), ints(heads)));
            int[] grid = {CudaMlaKernels.ceil(tokens, inst.keysPerBlock()), heads, batch};
            if (!det) {
                launch(inst.name(causal), grid, new int[] {inst.threads(), 1, 1}, inst.smem(),
                        Pointer.to(ptr(dq), ptr(dk), ptr(dv), ptr(q), ptr(k), ptr(v), ptr(dO), ptr(lse), ptr(dvec),
                                ints(tokens), ints(heads), floats(scale)));
                return;
            }
            if (!inst.hasDeterministic())
                throw new UnsupportedOperationException("a deterministic backward (ccalab.flash.deterministic=true or the"
                        + " run's deterministic option) exists for MLA's prefill core at d_qk 192 / d_v 128 on the sm_90a"
                        + " image's wgmma kernel, and padded on the flash kernels where they have one (the wgmma kernels"
                        + " on the sm_90a image); this is " + inst.name(causal));
            long semBytes = CudaMlaKernels.BwdInstance.deterministicSemaphores(batch, tokens, heads) * 4;
            try (DeviceBuffer sem = device.pool().allocate(semBytes)) {
                device.zero(sem, semBytes);
                launch(inst.deterministicName(causal), grid, new int[] {inst.threads(), 1, 1}, inst.deterministicSmem(),
                        Pointer.to(ptr(dq), ptr(dk), ptr(dv), ptr(q), ptr(k), ptr(v), ptr(dO), ptr(lse), ptr(dvec),
                                ints(tokens), ints(heads), floats(scale), ptr(sem)));
            }
        }
    }

    /**
     * Absorbed decode (mla.md section 3 steps 3-4 before W_UV): oLat [B, H, R] fp32 = sum_s p_s c_s over the first
     * {@code length} rows of cache [B, capacity, R + DR] bf16, for absorbed queries qa [B, H, R + DR] bf16.
     */
    public void decode(DeviceBuffer oLat, DeviceBuffer qa, DeviceBuffer cache, int batch, int length, int capacity,
                       int heads, int latent, int ropeDim, double scale) {
        positive(batch, capacity, heads);
        if (length < 1 || length > capacity)
            throw new IllegalArgumentException("length " + length + " outside [1, capacity=" + capacity + "]");
        int dk = latent + ropeDim;
        need(oLat, (long) batch * heads * latent * 4, "oLat");
        need(qa, (long) batch * heads * dk * 2, "qa");
        need(cache, (long) batch * capacity * dk * 2, "cache");
        CudaMlaKernels.DecodeInstance inst = decodeInstance(latent, ropeDim);
        CudaMlaKernels.DecodeSplit sp = CudaMlaKernels.decodeSplit(batch, heads, length, inst, limits.multiprocessors(),
                limits.smemPerMultiprocessor());
        decode(oLat, qa, cache, batch, length, capacity, heads, latent, ropeDim, scale, inst, sp, null);
    }

    /**
     * decode with the split forced and the merge chosen (tests): fused true runs the ring's fused merge (refused
     * where the grid is not co-resident: it would deadlock), false split + combine, null the rule: fused where the
     * ring runs, a spin-counter source was given, a head group has at least SPIN_MIN_SPLITS splits and the grid is
     * co-resident.
     */
    void decode(DeviceBuffer oLat, DeviceBuffer qa, DeviceBuffer cache, int batch, int length, int capacity, int heads,
                int latent, int ropeDim, double scale, CudaMlaKernels.DecodeInstance inst, CudaMlaKernels.DecodeSplit sp,
                Boolean fused) {
        int dk = latent + ropeDim, groups = CudaMlaKernels.ceil(heads, CudaMlaKernels.DECODE_HEADS_PER_BLOCK);
        int[] grid = {sp.splits(), groups, batch};
        boolean fits = fusedMergeFits(inst, sp, batch, heads);
        boolean spin = fused != null ? fused : fits && sp.splits() >= CudaMlaKernels.SPIN_MIN_SPLITS;
        if (spin && !fits)
            throw new IllegalArgumentException("MLA decode fused merge refused: " + inst.name() + " with "
                    + (long) sp.splits() * groups * batch + " blocks " + (inst.ring() && spinCounters != null
                    ? "is not co-resident on this device (it could deadlock)" : "has no fused merge here"));
        long parts = (long) batch * heads * sp.splits();
        int width = inst.latent();  // the partials' (an "any" instance's padded width)
        try (DeviceBuffer partO = device.pool().allocate(parts * width * 4);
             DeviceBuffer partMl = device.pool().allocate(parts * 2 * 4)) {
            int[] block = {CudaMlaKernels.DECODE_THREADS, 1, 1};
            // an "any" instance also takes the rows' real widths (a ring dk = r + d_r and r, the split kernel dk); its
            // combine takes r
            Pointer[] widths = !inst.any() ? new Pointer[0]
                    : inst.ring() ? new Pointer[] {ints(dk), ints(latent)} : new Pointer[] {ints(dk)};
            if (spin) {
                launch(inst.spinName(), grid, block, inst.smem(), Pointer.to(append(new Pointer[] {ptr(partO), ptr(partMl),
                        ptr(qa), ptr(cache), ints(length), ints(capacity), ints(heads), ints(sp.chunk()), floats(scale),
                        ptr(oLat), ptr(spinCounters.apply(2 * groups * batch))}, widths)));
                return;
            }
            launch(inst.name(), grid, block, inst.smem(), Pointer.to(append(new Pointer[] {ptr(partO), ptr(partMl), ptr(qa),
                    ptr(cache), ints(length), ints(capacity), ints(heads), ints(sp.chunk()), floats(scale)}, widths)));
            launch(inst.combineName(), CudaMlaKernels.combineGrid(batch, heads, width),
                    new int[] {CudaMlaKernels.COMBINE_X, CudaMlaKernels.COMBINE_GROUPS, 1}, 0,
                    Pointer.to(append(new Pointer[] {ptr(oLat), ptr(partO), ptr(partMl), ints(heads), ints(sp.splits())},
                            inst.any() ? new Pointer[] {ints(latent)} : new Pointer[0])));
        }
    }

    /**
     * The kernels decode runs for this shape, as recorded beside its timings: the split kernel and the combine
     * ("mla_decode_ring_r512_rope64 + mla_decode_combine_r512"), or the fused twin alone.
     */
    String decodeKernels(int batch, int heads, int length, int latent, int ropeDim) {
        CudaMlaKernels.DecodeInstance inst = decodeInstance(latent, ropeDim);
        CudaMlaKernels.DecodeSplit sp = CudaMlaKernels.decodeSplit(batch, heads, length, inst, limits.multiprocessors(),
                limits.smemPerMultiprocessor());
        return sp.splits() >= CudaMlaKernels.SPIN_MIN_SPLITS && fusedMergeFits(inst, sp, batch, heads) ? inst.spinName()
                : inst.name() + " + " + inst.combineName();
    }

    private final Map<String, Integer> spinBlocksPerSm = new HashMap<>();

    /**
     * Whether the fused merge can run this split: a ring instance, a counter source, and every block of the grid
     * resident at once (the occupancy API): a block that spins then waits only on running blocks.
     */
    boolean fusedMergeFits(CudaMlaKernels.DecodeInstance inst, CudaMlaKernels.DecodeSplit sp, int batch, int heads) {
        long blocks = (long) sp.splits() * CudaMlaKernels.ceil(heads, CudaMlaKernels.DECODE_HEADS_PER_BLOCK) * batch;
        return inst.ring() && spinCounters != null && spinFits(inst, blocks);
    }

    private boolean spinFits(CudaMlaKernels.DecodeInstance inst, long blocks) {
        int perSm = spinBlocksPerSm.computeIfAbsent(inst.spinName(), n -> {
            int[] out = new int[1];
            int rc = JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(out, kernels.function(n, inst.smem()),
                    CudaMlaKernels.DECODE_THREADS, inst.smem());
            return rc == 0 ? out[0] : 0;  // an error: never spin
        });
        return (long) perSm * limits.multiprocessors() >= blocks;
    }

    /**
     * The latent step (mla.md section 2 step 2) for T new tokens at positions pos0..pos0+T-1: from a [B, T, R + DR]
     * (kv_a_proj output) writes cache rows [c ; RoPE(k^R)] at those positions of cache [B, capacity, R + DR] and,
     * when {@code c} is not null, c [B, T, R] contiguous. normWeight [R] fp32.
     */
    public void kvLatent(DeviceBuffer c, DeviceBuffer cache, DeviceBuffer a, DeviceBuffer normWeight, int batch,
                         int tokens, int capacity, int pos0, int latent, int ropeDim, double eps, double ropeBase) {
        positive(batch, tokens, capacity);
        if (pos0 < 0 || pos0 + tokens > capacity)
            throw new IllegalArgumentException("positions [" + pos0 + ", " + (pos0 + tokens) + ") outside the cache capacity " + capacity);
        if (ropeDim % 2 != 0 || ropeDim > CudaMlaKernels.MAX_ROPE_DIMS)
            throw new IllegalArgumentException("ropeDim " + ropeDim + " must be even and at most " + CudaMlaKernels.MAX_ROPE_DIMS);
        int dk = latent + ropeDim;
        long rows = (long) batch * tokens;
        if (c != null) need(c, rows * latent * 2, "c");
        need(cache, (long) batch * capacity * dk * 2, "cache");
        need(a, rows * dk * 2, "a");
        need(normWeight, latent * 4L, "normWeight");
        launch(CudaMlaKernels.KV_LATENT, new int[] {Math.toIntExact(rows), 1, 1},
                new int[] {CudaMlaKernels.LATENT_THREADS, 1, 1}, 0,
                Pointer.to(nullable(c), ptr(cache), ptr(a), ptr(normWeight), ints(tokens), ints(capacity), ints(pos0),
                        ints(latent), ints(ropeDim), floats(eps), floats(ropeBase)));
    }

    /**
     * Steps 3-4 of the prefill: k [B, T, H, DQK] = [k^C_h ; k^R], v [B, T, H, DV] from kvUp [B, T, H, DN + DV]
     * (kv_b_proj output) and the rope keys of cache rows 0..T-1 (cache [B, capacity, R + DR]).
     */
    public void expandKv(DeviceBuffer k, DeviceBuffer v, DeviceBuffer kvUp, DeviceBuffer cache, int batch, int tokens,
                         int capacity, int heads, int nopeDim, int ropeDim, int vDim, int latent) {
        positive(batch, tokens, heads);
        if (tokens > capacity) throw new IllegalArgumentException("tokens " + tokens + " exceed the cache capacity " + capacity);
        multiplesOf8(nopeDim, ropeDim, vDim, latent);
        long rows = (long) batch * tokens;
        need(k, rows * heads * (nopeDim + ropeDim) * 2, "k");
        need(v, rows * heads * vDim * 2, "v");
        need(kvUp, rows * heads * (nopeDim + vDim) * 2, "kvUp");
        need(cache, (long) batch * capacity * (latent + ropeDim) * 2, "cache");
        launch(CudaMlaKernels.EXPAND_KV, new int[] {Math.toIntExact(rows), 1, 1},
                new int[] {CudaMlaKernels.EXPAND_THREADS, 1, 1}, 0,
                Pointer.to(ptr(k), ptr(v), ptr(kvUp), ptr(cache), ints(tokens), ints(capacity), ints(heads), ints(nopeDim),
                        ints(ropeDim), ints(vDim), ints(latent)));
    }

    /**
     * Absorption (mla.md section 3 step 2): qa [B, H, R + DR] = [W_UK,h^T q^C_h ; q^R_h] from one token's
     * queries q [B, H, DN + DR] (rope slice rotated) and kvB = kv_b_proj.weight [H, DN + DV, R].
     */
    public void absorbQuery(DeviceBuffer qa, DeviceBuffer q, DeviceBuffer kvB, int batch, int heads, int nopeDim,
                            int ropeDim, int vDim, int latent) {
        positive(batch, heads, latent);
        if (nopeDim > CudaMlaKernels.ABSORB_MAX_DN)
            throw new IllegalArgumentException("qkNopeHeadDim " + nopeDim + " exceeds " + CudaMlaKernels.ABSORB_MAX_DN);
        need(qa, (long) batch * heads * (latent + ropeDim) * 2, "qa");
        need(q, (long) batch * heads * (nopeDim + ropeDim) * 2, "q");
        need(kvB, (long) heads * (nopeDim + vDim) * latent * 2, "kvB");
        launch(CudaMlaKernels.ABSORB_Q, CudaMlaKernels.absorbGrid(batch, heads, latent),
                new int[] {CudaMlaKernels.ABSORB_COLS, 1, 1}, 0,
                Pointer.to(ptr(qa), ptr(q), ptr(kvB), ints(batch), ints(heads), ints(nopeDim), ints(ropeDim), ints(vDim),
                        ints(latent)));
    }

    /** Un-absorption (mla.md section 3 step 4): att [B, H, DV] bf16 = W_UV,h oLat_h from oLat [B, H, R] fp32. */
    public void unabsorb(DeviceBuffer att, DeviceBuffer oLat, DeviceBuffer kvB, int batch, int heads, int nopeDim, int vDim,
                         int latent) {
        positive(batch, heads, latent);
        multiplesOf8(latent);
        need(att, (long) batch * heads * vDim * 2, "att");
        need(oLat, (long) batch * heads * latent * 4, "oLat");
        need(kvB, (long) heads * (nopeDim + vDim) * latent * 2, "kvB");
        launch(CudaMlaKernels.UNABSORB, CudaMlaKernels.unabsorbGrid(batch, heads, vDim),
                new int[] {CudaMlaKernels.UNABSORB_WARPS * 32, 1, 1}, 0,
                Pointer.to(ptr(att), ptr(oLat), ptr(kvB), ints(batch), ints(heads), ints(nopeDim), ints(vDim), ints(latent)));
    }

    /**
     * Layer backward, the expansion's per-head part (mla.md section 4): dKvUp [N, H, DN + DV] bf16 = per head
     * [dK_h[:DN] ; dV_h] from the core's dK [N, H, DN + DR] and dV [N, H, DV] fp32 (N = B T rows).
     */
    public void kvUpBackward(DeviceBuffer dKvUp, DeviceBuffer dK, DeviceBuffer dV, long rows, int heads, int nopeDim,
                             int ropeDim, int vDim) {
        positive(heads);
        multiplesOf8(nopeDim, ropeDim, vDim);
        long rh = rows * heads;
        need(dKvUp, rh * (nopeDim + vDim) * 2, "dKvUp");
        need(dK, rh * (nopeDim + ropeDim) * 4, "dK");
        need(dV, rh * vDim * 4, "dV");
        if (rows == 0) return;
        launch(CudaMlaKernels.KV_UP_BWD, new int[] {CudaMlaKernels.kvUpBackwardBlocks(rh, nopeDim, vDim), 1, 1},
                new int[] {CudaMlaKernels.UP_BWD_THREADS, 1, 1}, 0,
                Pointer.to(ptr(dKvUp), ptr(dK), ptr(dV), Pointer.to(new long[] {rh}), ints(nopeDim), ints(ropeDim), ints(vDim)));
    }

    /**
     * Layer backward, the latent step (mla.md section 4): dA [B, T, R + DR] bf16 = [the latent RMSNorm's input
     * gradient from dC [B, T, R] bf16 ; RoPE^-1 of the rope key's gradient summed over heads from dK [B, T, H, DN + DR]
     * fp32], tokens at positions pos0..; normWeightGrad [R] fp32 += the gain's gradient (block partials summed in a
     * fixed order by training's rmsnorm_dw_reduce). A [B, T, R + DR] is the forward's kv_a output, normWeight [R] fp32.
     */
    public void kvLatentBackward(DeviceBuffer dA, DeviceBuffer normWeightGrad, DeviceBuffer dC, DeviceBuffer a,
                                 DeviceBuffer normWeight, DeviceBuffer dK, int batch, int tokens, int pos0, int heads,
                                 int nopeDim, int latent, int ropeDim, double eps, double ropeBase) {
        positive(batch, tokens, heads);
        multiplesOf8(latent, ropeDim);
        if (ropeDim > CudaMlaKernels.MAX_ROPE_DIMS)
            throw new IllegalArgumentException("ropeDim " + ropeDim + " exceeds " + CudaMlaKernels.MAX_ROPE_DIMS);
        long rows = (long) batch * tokens;
        int dk = latent + ropeDim;
        need(dA, rows * dk * 2, "dA");
        need(normWeightGrad, latent * 4L, "normWeightGrad");
        need(dC, rows * latent * 2, "dC");
        need(a, rows * dk * 2, "a");
        need(normWeight, latent * 4L, "normWeight");
        need(dK, rows * heads * (nopeDim + ropeDim) * 4, "dK");
        int blocks = CudaMlaKernels.latentBackwardBlocks(rows);
        try (DeviceBuffer partial = device.pool().allocate((long) blocks * latent * 4)) {
            launch(CudaMlaKernels.KV_LATENT_BWD, new int[] {blocks, 1, 1}, new int[] {CudaMlaKernels.LATENT_BWD_THREADS, 1, 1},
                    CudaMlaKernels.latentBackwardSmem(latent),
                    Pointer.to(ptr(dA), ptr(partial), ptr(dC), ptr(a), ptr(normWeight), ptr(dK), ints(Math.toIntExact(rows)),
                            ints(tokens), ints(pos0), ints(heads), ints(nopeDim), ints(latent), ints(ropeDim), floats(eps),
                            floats(ropeBase)));
            launch(CudaTrainingKernels.RMSNORM_DW_REDUCE, new int[] {CudaTrainingKernels.rmsnormReduceBlocks(latent), 1, 1},
                    new int[] {CudaTrainingKernels.RMS_REDUCE_THREADS, 1, 1}, 0,
                    Pointer.to(ptr(normWeightGrad), ptr(partial), ints(blocks), ints(latent)));
        }
    }

    /**
     * Whether the padded prefill core would run deterministic where the (d_qk, d_v) instance cannot: the flash
     * backward at the padded head dim has an ordered-add instance on this backend's kernels.
     */
    boolean paddedDeterministic(int qkDim, int vDim) {
        int d = CudaMlaKernels.paddedHeadDim(qkDim, vDim);
        return d > 0 && flash != null && CudaKernels.hasDeterministicBackward(d, flash.backwardVariant(paddedShape(1, 1, 1, d)));
    }

    private static AttentionShape paddedShape(int batch, int tokens, int heads, int headDim) {
        return new AttentionShape(batch, tokens, heads, heads, headDim);
    }

    private int paddedDim(int qkDim, int vDim) {
        int d = CudaMlaKernels.paddedHeadDim(qkDim, vDim);
        if (d < 0)
            throw new IllegalArgumentException("no MLA prefill core for d_qk " + qkDim + ", d_v " + vDim + ": no mla_fwd /"
                    + " mla_bwd instance (192 / 128, 96 / 64), and padding to a flash head dim needs both multiples of 8"
                    + " and at most 256");
        if (flash == null) throw new IllegalStateException("the padded MLA prefill core needs the backend's flash kernels");
        return d;
    }

    /** The core on the flash kernels at head dim d: q, k, v zero-padded to d columns, o (and oLo) cut back to d_v. */
    private void paddedForward(DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer q, DeviceBuffer k,
                               DeviceBuffer v, int batch, int tokens, int heads, int qkDim, int vDim, boolean causal,
                               double scale) {
        int d = paddedDim(qkDim, vDim);
        long rows = (long) batch * tokens * heads;
        try (DeviceBuffer qp = padded(q, qkDim, d, rows); DeviceBuffer kp = padded(k, qkDim, d, rows);
             DeviceBuffer vp = padded(v, vDim, d, rows); DeviceBuffer op = device.pool().allocate(rows * d * 2);
             DeviceBuffer oLoP = oLo == null ? null : device.pool().allocate(rows * d * 2)) {
            flash.flashForward(op, oLoP, lse, qp, kp, vp, paddedShape(batch, tokens, heads, d), causal, heads, scale);
            copyCols(o, vDim, op, d, rows, false);
            if (oLo != null) copyCols(oLo, vDim, oLoP, d, rows, false);
        }
    }

    /**
     * The backward of {@link #paddedForward} (the buffers checked by {@link #backward}): every bf16 input padded
     * again, the fp32 gradients cut back.
     */
    private void paddedBackward(DeviceBuffer dq, DeviceBuffer dk, DeviceBuffer dv, DeviceBuffer q, DeviceBuffer k,
                                DeviceBuffer v, DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer dO,
                                int batch, int tokens, int heads, int qkDim, int vDim, boolean causal, double scale) {
        int d = paddedDim(qkDim, vDim);
        long rows = (long) batch * tokens * heads;
        try (DeviceBuffer qp = padded(q, qkDim, d, rows); DeviceBuffer kp = padded(k, qkDim, d, rows);
             DeviceBuffer vp = padded(v, vDim, d, rows); DeviceBuffer op = padded(o, vDim, d, rows);
             DeviceBuffer oLoP = oLo == null ? null : padded(oLo, vDim, d, rows); DeviceBuffer dOp = padded(dO, vDim, d, rows);
             DeviceBuffer dqp = device.pool().allocate(rows * d * 4); DeviceBuffer dkp = device.pool().allocate(rows * d * 4);
             DeviceBuffer dvp = device.pool().allocate(rows * d * 4)) {
            flash.flashBackward(dqp, dkp, dvp, qp, kp, vp, op, oLoP, lse, dOp, paddedShape(batch, tokens, heads, d), causal,
                    scale);
            copyCols(dq, qkDim, dqp, d, rows, true);
            copyCols(dk, qkDim, dkp, d, rows, true);
            copyCols(dv, vDim, dvp, d, rows, true);
        }
    }

    /** A pool buffer [rows, d] bf16 holding src [rows, width] and zeros past it. */
    private DeviceBuffer padded(DeviceBuffer src, int width, int d, long rows) {
        need(src, rows * width * 2, "padded operand");
        DeviceBuffer b = device.pool().allocate(rows * d * 2);
        copyCols(b, d, src, width, rows, false);
        return b;
    }

    /** dst [rows, dstW] = src [rows, srcW], cut or zero-padded (mla_copy_cols_bf16 / _f32). */
    void copyCols(DeviceBuffer dst, int dstW, DeviceBuffer src, int srcW, long rows, boolean f32) {
        int elem = f32 ? 4 : 2;
        need(dst, rows * dstW * elem, "dst");
        need(src, rows * srcW * elem, "src");
        long chunks = rows * dstW * elem / 16;
        int blocks = (int) Math.max(1, Math.min(CudaMlaKernels.COPY_MAX_BLOCKS,
                (chunks + CudaMlaKernels.COPY_THREADS - 1) / CudaMlaKernels.COPY_THREADS));
        launch(f32 ? CudaMlaKernels.COPY_COLS_F32 : CudaMlaKernels.COPY_COLS_BF16, new int[] {blocks, 1, 1},
                new int[] {CudaMlaKernels.COPY_THREADS, 1, 1}, 0,
                Pointer.to(ptr(dst), ints(dstW), ptr(src), ints(srcW), Pointer.to(new long[] {rows})));
    }

    private static Pointer[] append(Pointer[] a, Pointer[] b) {
        Pointer[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    // KernelModule.launch takes a 1-D block; the combine kernel's block is 16 x 8.
    private void launch(String name, int[] grid, int[] block, int smem, Pointer params) {
        cuLaunchKernel(kernels.function(name, smem), grid[0], grid[1], grid[2], block[0], block[1], block[2], smem,
                device.stream(), params, null);
    }

    private static void positive(int... sizes) {
        for (int s : sizes) if (s < 1) throw new IllegalArgumentException("sizes must be positive, got " + s);
    }

    private static void multiplesOf8(int... widths) {
        for (int w : widths)
            if (w % 8 != 0) throw new IllegalArgumentException("width " + w + " must be a multiple of 8 (16-byte chunks)");
    }

    static void need(DeviceBuffer b, long bytes, String name) {
        if (b.bytes() < bytes)
            throw new IllegalArgumentException(name + ": device buffer of " + b.bytes() + " bytes, the shape needs " + bytes);
    }

    private static Pointer ptr(DeviceBuffer b) {
        return Pointer.to(b.pointer());
    }

    private static Pointer nullable(DeviceBuffer b) {
        return b == null ? Pointer.to(new jcuda.driver.CUdeviceptr()) : ptr(b);
    }

    private static Pointer ints(int v) {
        return Pointer.to(new int[] {v});
    }

    private static Pointer floats(double v) {
        return Pointer.to(new float[] {(float) v});
    }
}
