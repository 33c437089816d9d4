package org.ccalab.engine.backend.cuda;

import static org.ccalab.engine.backend.cuda.KernelArgs.floats;
import static org.ccalab.engine.backend.cuda.KernelArgs.ints;
import static org.ccalab.engine.backend.cuda.KernelArgs.ptr;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.JCudaDriver;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.engine.backend.Backend;

/**
 * The CUDA backend: our kernels for attention (flash forward, split-KV decode, the CCA/CCGQA prologue, the
 * value shift) and cuBLAS for GEMMs, all on one stream of device 0's primary context. Operations take device
 * buffers from {@link #allocate} and only enqueue work; {@link #synchronize()} or a download waits for it.
 *
 * <p>Open with {@link #open()}; use {@link #probe()} first where the GPU is optional: it never throws.
 */
public final class CudaBackend implements Backend, AutoCloseable {
    private static final Logger LOG = Logger.getLogger(CudaBackend.class.getName());

    private final CudaDevice device;
    private final KernelModule kernels;
    private final Cublas cublas;
    private final CudaProbe probe;
    private final CudaKernels.Prologue prologue = CudaKernels.Prologue.fromProperty();
    /** D = 128 forward on the wgmma kernel: the driver runs our sm_90a image (probed at open). */
    private boolean hopperForward;
    private int imageArch; // __CUDA_ARCH__ of the fatbin image the driver loaded (900 on H100/H200, 800 on A100)
    /** D = 64, 128, 256 and MLA 192 / 128 backward on the wgmma kernels: likewise, under its own switch (ccalab.flash.backward). */
    private boolean hopperBackward;
    /**
     * ccalab.flash.deterministic=true: the backward's fp32 adds in a fixed order (the "_det" wgmma kernels), so that
     * two runs give the same bits; shapes without such a kernel (mma.sync, D = 256, MLA) are refused, not run
     * non-deterministically. The backend-wide default; a run asks for it through {@link #DETERMINISTIC_BACKWARD}.
     */
    private final boolean deterministicBackward = Boolean.getBoolean("ccalab.flash.deterministic");
    private final String persistentMode = CudaKernels.persistentMode(System.getProperty("ccalab.flash.persistent", "auto"));
    private final String tmaMode = CudaKernels.tmaMode(System.getProperty("ccalab.flash.tma", "auto"));
    /** Bound true around one run (CudaEngine) that asked for a deterministic backward: it wins over a false default. */
    public static final ScopedValue<Boolean> DETERMINISTIC_BACKWARD = ScopedValue.newInstance();

    private CudaBackend(CudaDevice device, KernelModule kernels, Cublas cublas, CudaProbe probe) {
        this.device = device;
        this.kernels = kernels;
        this.cublas = cublas;
        this.probe = probe;
    }

    private static volatile CudaProbe probed;

    /**
     * Whether this machine can run the backend, and why not; never throws (CI has no GPU). Probed once per
     * JVM: after a failed native load JCuda's classes stay unusable, so a second probe could only say less.
     */
    public static CudaProbe probe() {
        CudaProbe p = probed;
        if (p == null) {
            try {
                p = CudaProbe.run();
            } catch (LinkageError | CudaException | CudaUnavailableException e) {
                p = CudaProbe.unavailable(e.toString());
            }
            probed = p;
        }
        return p;
    }

    /**
     * Opens device 0 with our kernels and cuBLAS; fails with {@link CudaUnavailableException} saying what is
     * missing (driver, device, kernels, a kernel the fatbin lacks, cuBLAS).
     */
    public static CudaBackend open() {
        CudaProbe p = probe();
        if (!p.available()) throw new CudaUnavailableException("CUDA backend unavailable: " + p.reason());
        CudaDevice dev = new CudaDevice();
        KernelModule mod = null;
        try {
            mod = new KernelModule(KernelImage.locate());
            List<String> missing = new ArrayList<>();
            for (String name : CudaKernels.all()) {
                try {
                    mod.function(name, 0);
                } catch (CudaUnavailableException e) {
                    missing.add(name);
                }
            }
            if (!missing.isEmpty())
                throw new CudaUnavailableException("CUDA kernels missing from " + mod.image().source() + ": " + missing);
            Cublas blas = new Cublas(CublasLocator.locate(), dev.streamHandle());
            LOG.info(() -> "CUDA backend: " + p.describe() + ", kernels " + p.kernelsSource() + ", cuBLAS " + blas.library());
            CudaBackend backend = new CudaBackend(dev, mod, blas, p);
            backend.probeHopper();
            return backend;
        } catch (RuntimeException e) {
            if (mod != null) mod.close();
            dev.close();
            throw e;
        }
    }

    /**
     * Whether the forward (D = 64 and 128) and the backward (D = 64, 128, 256 and MLA 192 / 128) run on the wgmma kernels. {@code ccalab.flash.forward} and
     * {@code ccalab.flash.backward}, each: auto (default: wgmma when the driver loaded the fatbin's sm_90a image,
     * which a one-thread probe kernel reports; its other images would trap), mma (always the mma.sync kernels),
     * wgmma (required: fails if the device cannot run it). See CudaKernels.useWgmma.
     */
    private void probeHopper() {
        String fwd = System.getProperty("ccalab.flash.forward", "auto");
        String bwd = System.getProperty("ccalab.flash.backward", "auto");
        int arch, sm90a;
        try (DeviceBuffer out = allocate(8)) {
            device.zero(out, 8);
            kernels.launch(CudaKernels.ARCH_PROBE, new int[] {1, 1, 1}, 1, 0, device.stream(), Pointer.to(ptr(out)));
            float[] raw = device.downloadFloats(out, 2);
            arch = Float.floatToRawIntBits(raw[0]);
            imageArch = arch;
            sm90a = Float.floatToRawIntBits(raw[1]);
        }
        hopperForward = CudaKernels.useWgmma("ccalab.flash.forward", fwd, arch, sm90a == 1);
        hopperBackward = CudaKernels.useWgmma("ccalab.flash.backward", bwd, arch, sm90a == 1);
        LOG.info(() -> "CUDA backend (image " + arch + (sm90a == 1 ? ", sm_90a" : "") + "): D=64/128 forward on "
                + (hopperForward ? "wgmma" : "mma.sync") + ", D=64/128/256 and MLA 192/128 backward on " + (hopperBackward ? "wgmma" : "mma.sync")
                + (deterministicBackward ? " (deterministic)" : ""));
    }

    /** __CUDA_ARCH__ of the loaded image: kernels that need thread-block clusters (OVQ) need 900 or more. */
    int imageArch() {
        return imageArch;
    }

    /**
     * Whether the forward of this shape runs the persistent kernels (CudaKernels.persistentForward's rule; window 0:
     * none). {@code ccalab.flash.persistent}: auto (default: the rule), on (wherever an instance exists: causal wgmma
     * at D = 64 / 128, the tests' switch), off (never).
     */
    boolean persistentForward(AttentionShape s, boolean causal, int window) {
        CudaKernels.FlashVariant fv = flashVariant(s);
        return switch (persistentMode) {
            case "off" -> false;
            case "on" -> CudaKernels.hasPersistentForward(s.headDim(), fv, causal);
            default -> CudaKernels.persistentForward(s, fv, causal, window, multiprocessors(), tmaAllowed(s));
        };
    }

    /**
     * Whether the plain (not deterministic, not windowed) backward of this shape runs its TMA twin
     * (CudaKernels.hasTmaBackward): wherever one exists unless {@code ccalab.flash.tma} is off.
     */
    boolean tmaBackward(AttentionShape s) {
        return tmaBackward(s, backwardVariant(s));
    }

    /** ... and whether these tensors can be mapped (TMA's alignment); the cp.async kernel runs where not. */
    private boolean tmaBackward(AttentionShape s, CudaKernels.BwdVariant bv, DeviceBuffer... tensors) {
        if (tmaMode.equals("off") || !CudaKernels.hasTmaBackward(s.headDim(), bv)) return false;
        for (DeviceBuffer t : tensors) if (!CudaTensorMaps.mappable(t.address(), s.headDim())) return false;
        return true;
    }

    /** Whether {@code ccalab.flash.tma} lets this shape's forward copy with TMA (not off, an instance exists). */
    private boolean tmaAllowed(AttentionShape s) {
        return !tmaMode.equals("off") && CudaKernels.hasTmaForward(s.headDim(), flashVariant(s));
    }

    /**
     * Whether the forward of this shape runs the TMA twins (CudaKernels.tmaForward's rule, given the walk picked).
     * {@code ccalab.flash.tma}: auto (default: the rule), on (wherever an instance exists: the tests' switch), off
     * (the cp.async kernels).
     */
    boolean tmaForward(AttentionShape s, boolean causal, boolean persistent) {
        if (!tmaAllowed(s)) return false;
        return tmaMode.equals("on") || CudaKernels.tmaForward(s.headDim(), flashVariant(s), causal, persistent);
    }

    /** The forward layout this backend launches for a shape. */
    CudaKernels.FlashVariant flashVariant(AttentionShape s) {
        return CudaKernels.flashVariant(s, hopperForward);
    }

    /** Whether the backward runs the wgmma kernels where a head dim has one (ccalab.flash.backward, the sm_90a image). */
    boolean wgmmaBackward() {
        return hopperBackward;
    }

    /** The backward kernel this backend launches for a shape. */
    CudaKernels.BwdVariant backwardVariant(AttentionShape s) {
        return CudaKernels.backwardVariant(s.headDim(), hopperBackward);
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String describe() {
        return "cuda: " + probe.describe();
    }

    public CudaProbe deviceInfo() {
        return probe;
    }

    /** sha256 of the loaded fatbin: the run environment's kernel build hash. */
    public String kernelBuildHash() {
        return kernels.image().sha256();
    }

    // ---------------------------------------------------------------- memory

    public DeviceBuffer allocate(long bytes) {
        return device.pool().allocate(bytes);
    }

    public DeviceBuffer uploadBf16(short[] values) {
        DeviceBuffer b = allocate(values.length * 2L);
        device.upload(b, values);
        return b;
    }

    public DeviceBuffer uploadFloats(float[] values) {
        DeviceBuffer b = allocate(values.length * 4L);
        device.upload(b, values);
        return b;
    }

    public short[] downloadBf16(DeviceBuffer b, int count) {
        return device.downloadShorts(b, count);
    }

    public float[] downloadFloats(DeviceBuffer b, int count) {
        return device.downloadFloats(b, count);
    }

    /** {@code count} fp32 values, widened to float64. */
    public double[] downloadDoubles(DeviceBuffer b, int count) {
        return widen(downloadFloats(b, count));
    }

    static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    public void poison(DeviceBuffer b) {
        device.poison(b);
    }

    public void synchronize() {
        device.synchronize();
    }

    public int multiprocessors() {
        return device.multiprocessors();
    }

    CudaDevice device() {
        return device;
    }

    /** The loaded fatbin, for launchers kept outside this class (CudaMla). */
    KernelModule kernels() {
        return kernels;
    }

    // ---------------------------------------------------------------- for GPU training (backend.cuda.train)

    /** The training kernels (training_kernels.cuh) on this backend's stream and memory pool. */
    public CudaTrainingKernels trainingKernels() {
        return new CudaTrainingKernels(kernels, device);
    }

    /** Zeroes the whole buffer (a multiple of 4 bytes) on the stream, ordered with the kernels around it. */
    public void zero(DeviceBuffer b) {
        device.zero(b, b.bytes());
    }

    /** dst's first {@code bytes} = src's, on the stream. */
    public void copy(DeviceBuffer dst, DeviceBuffer src, long bytes) {
        device.copy(dst, src, bytes);
    }


    // ---------------------------------------------------------------- operations

    /**
     * cublasGemmEx in cuBLAS's column-major terms on this backend's handle and stream: c = op(first) op(second)
     * (+ c when accumulate), bf16 operands, fp32 accumulation, c bf16 or fp32. The general form behind
     * {@link #gemmNt}, for callers that map their own row-major products (the trainer's Gemm); buffer sizes are
     * the caller's to check.
     */
    public void gemmColumnMajor(int opFirst, int opSecond, int m, int n, int k, DeviceBuffer first, int ldFirst,
                                DeviceBuffer second, int ldSecond, DeviceBuffer c, boolean cFloat32, int ldc, boolean accumulate) {
        cublas.gemmEx(opFirst, opSecond, m, n, k, first.address(), ldFirst, second.address(), ldSecond, c.address(), cFloat32,
                ldc, accumulate);
    }

    /** Row-major c [M, N] = a [M, K] . b [N, K]^T in bf16 with fp32 accumulation (cuBLAS). */
    public void gemmNt(DeviceBuffer c, DeviceBuffer a, DeviceBuffer b, int m, int n, int k) {
        need(c, (long) m * n * 2, "c");
        need(a, (long) m * k * 2, "a");
        need(b, (long) n * k * 2, "b");
        cublas.gemmNt(c.address(), a.address(), b.address(), m, n, k);
    }

    /**
     * o [B, T, Hq, D] and lse [B, Hq, T] (fp32, natural log, for backward) from q [B, T, Hq, D],
     * k, v [B, T, Hkv, D]. KV heads >= {@code vShiftFrom} read V one token back (CCA's value shift; pass
     * {@code kvHeads} for none).
     */
    public void flashForward(DeviceBuffer o, DeviceBuffer lse, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                             AttentionShape s, boolean causal, int vShiftFrom) {
        flashForward(o, null, lse, q, k, v, s, causal, vShiftFrom);
    }

    /**
     * As above; where {@code oLo} is not null (training: the backward follows) it also receives O's rounding
     * residual bf16(O - bf16(O)) [B, T, Hq, D], for {@link #flashBackward}'s Dv from O + oLo (the "_lo" instances;
     * a near one-hot softmax leaves the q/k gradients at bf16's rounding of O otherwise: docs/perf-log.md,
     * "Session 4, prec"). Null: the plain forward.
     */
    public void flashForward(DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer q, DeviceBuffer k,
                             DeviceBuffer v, AttentionShape s, boolean causal, int vShiftFrom) {
        flashForward(o, oLo, lse, q, k, v, s, causal, vShiftFrom, 1.0 / Math.sqrt(s.headDim()));
    }

    /**
     * As above with the logits' scale given: the MLA prefill core run on zero-padded operands (CudaMla) keeps its
     * d_qk^-1/2, not the padded head dim's.
     */
    void flashForward(DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                      AttentionShape s, boolean causal, int vShiftFrom, double scale) {
        flashForward(o, oLo, lse, q, k, v, s, causal, vShiftFrom, scale, 0);
    }

    /**
     * Sliding-window attention (the OVQ hybrid's SWA blocks, ovq.md section 4; the CPU's SoftmaxCore with a window):
     * causal, query t sees keys t - window < s <= t. {@code oLo} as in {@link #flashForward}; the backward is
     * {@link #flashBackwardWindowed} with the same window. A window that covers the sequence runs the causal kernels.
     */
    public void flashForwardWindowed(DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer q, DeviceBuffer k,
                                     DeviceBuffer v, AttentionShape s, int window) {
        if (window < 1) throw new IllegalArgumentException("window must be >= 1, was " + window);
        flashForward(o, oLo, lse, q, k, v, s, true, s.kvHeads(), 1.0 / Math.sqrt(s.headDim()), window);
    }

    /** The window's backward (the keys a query saw in {@link #flashForwardWindowed}); arguments as {@link #flashBackward}. */
    public void flashBackwardWindowed(DeviceBuffer dq, DeviceBuffer dk, DeviceBuffer dv, DeviceBuffer q, DeviceBuffer k,
                                      DeviceBuffer v, DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer dO,
                                      AttentionShape s, int window) {
        if (window < 1) throw new IllegalArgumentException("window must be >= 1, was " + window);
        flashBackward(dq, dk, dv, q, k, v, o, oLo, lse, dO, s, true, 1.0 / Math.sqrt(s.headDim()), window);
    }

    /** window 0: none; else causal, and below the sequence length (else the plain causal kernels compute the same). */
    private static boolean windowed(AttentionShape s, boolean causal, int window) {
        if (window < 0) throw new IllegalArgumentException("window must be >= 0, was " + window);
        if (window > 0 && !causal) throw new IllegalArgumentException("a sliding window is causal");
        boolean windowed = window > 0 && window < s.tokens();
        if (windowed && !CudaKernels.hasWindow(s.headDim()))
            throw new IllegalArgumentException("no sliding-window kernels for headDim " + s.headDim() + " (64 and 128 have them)");
        return windowed;
    }

    private void flashForward(DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer q, DeviceBuffer k,
                              DeviceBuffer v, AttentionShape s, boolean causal, int vShiftFrom, double scale, int window) {
        boolean windowed = windowed(s, causal, window);
        need(o, s.qElements() * 2, "o");
        need(lse, (long) s.batch() * s.qHeads() * s.tokens() * 4, "lse");
        need(q, s.qElements() * 2, "q");
        need(k, s.kvElements() * 2, "k");
        need(v, s.kvElements() * 2, "v");
        if (vShiftFrom < 0 || vShiftFrom > s.kvHeads())
            throw new IllegalArgumentException("vShiftFrom " + vShiftFrom + " outside [0, kvHeads=" + s.kvHeads() + "]");
        CudaKernels.FlashVariant fv = flashVariant(s);
        boolean residual = oLo != null;
        if (residual) {
            need(oLo, s.qElements() * 2, "oLo");
            if (!CudaKernels.hasResidual(s.headDim(), fv))
                throw new IllegalArgumentException("no O-residual forward for headDim " + s.headDim() + " variant " + fv);
        }
        boolean persistent = persistentForward(s, causal, windowed ? window : 0);
        int[] grid = persistent ? CudaKernels.persistentGrid(s, multiprocessors())
                : new int[] {(s.tokens() + CudaKernels.FLASH_BM - 1) / CudaKernels.FLASH_BM, s.qHeads(), s.batch()};
        // (unmappable buffers fall back to the cp.async twin of the walk picked above, which computes the same bits)
        boolean tma = tmaForward(s, causal, persistent) && CudaTensorMaps.mappable(q.address(), s.headDim())
                && CudaTensorMaps.mappable(k.address(), s.headDim()) && CudaTensorMaps.mappable(v.address(), s.headDim());
        List<Pointer> args = new ArrayList<>(List.of(ptr(o), ptr(lse), ptr(q), ptr(k), ptr(v), ints(s.tokens()),
                ints(s.qHeads()), ints(s.kvHeads()), ints(vShiftFrom), floats((float) scale)));
        if (residual) args.add(ptr(oLo));
        if (windowed) args.add(ints(window));
        if (tma) {  // the kernel's __grid_constant__ tensor maps, last
            args.add(Pointer.to(CudaTensorMaps.encode(q.address(), s.batch(), s.tokens(), s.qHeads(), s.headDim())));
            args.add(Pointer.to(CudaTensorMaps.encode(k.address(), s.batch(), s.tokens(), s.kvHeads(), s.headDim())));
            args.add(Pointer.to(CudaTensorMaps.encode(v.address(), s.batch(), s.tokens(), s.kvHeads(), s.headDim())));
        }
        String kernel = windowed ? CudaKernels.flashForwardWindowed(s.headDim(), fv, residual, persistent, tma)
                : CudaKernels.flashForward(s.headDim(), causal, fv, residual, persistent, tma);
        kernels.launch(kernel, grid, fv.threads(), fv.smem(s.headDim()), device.stream(), Pointer.to(args.toArray(Pointer[]::new)));
    }

    /**
     * FlashAttention-2 backward: dq [B, T, Hq, D], dk, dv [B, T, Hkv, D] fp32 accumulators (zeroed here, then
     * added to with atomics: grouped query heads sum into their KV head) from the forward's q, k, v, o, lse and
     * dO [B, T, Hq, D] bf16. The row sums Dv [B, Hq, T] = rowsum(dO * o) live in a pooled scratch buffer.
     */
    public void flashBackward(DeviceBuffer dq, DeviceBuffer dk, DeviceBuffer dv, DeviceBuffer q, DeviceBuffer k,
                              DeviceBuffer v, DeviceBuffer o, DeviceBuffer lse, DeviceBuffer dO, AttentionShape s,
                              boolean causal) {
        flashBackward(dq, dk, dv, q, k, v, o, null, lse, dO, s, causal);
    }

    /** As above, with Dv from o + oLo where {@code oLo} (the forward's residual of o) is not null. */
    public void flashBackward(DeviceBuffer dq, DeviceBuffer dk, DeviceBuffer dv, DeviceBuffer q, DeviceBuffer k,
                              DeviceBuffer v, DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer dO,
                              AttentionShape s, boolean causal) {
        flashBackward(dq, dk, dv, q, k, v, o, oLo, lse, dO, s, causal, 1.0 / Math.sqrt(s.headDim()));
    }

    /** As above with the logits' scale given (the forward's: {@link #flashForward} with a scale). */
    void flashBackward(DeviceBuffer dq, DeviceBuffer dk, DeviceBuffer dv, DeviceBuffer q, DeviceBuffer k, DeviceBuffer v,
                       DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer dO, AttentionShape s, boolean causal,
                       double scale) {
        flashBackward(dq, dk, dv, q, k, v, o, oLo, lse, dO, s, causal, scale, 0);
    }

    private void flashBackward(DeviceBuffer dq, DeviceBuffer dk, DeviceBuffer dv, DeviceBuffer q, DeviceBuffer k,
                               DeviceBuffer v, DeviceBuffer o, DeviceBuffer oLo, DeviceBuffer lse, DeviceBuffer dO,
                               AttentionShape s, boolean causal, double scale, int window) {
        boolean windowed = windowed(s, causal, window);
        if (!s.hasBackward())
            throw new IllegalArgumentException("no flash backward kernel for headDim " + s.headDim());
        need(dq, s.qElements() * 4, "dq");
        need(dk, s.kvElements() * 4, "dk");
        need(dv, s.kvElements() * 4, "dv");
        need(q, s.qElements() * 2, "q");
        need(k, s.kvElements() * 2, "k");
        need(v, s.kvElements() * 2, "v");
        need(o, s.qElements() * 2, "o");
        need(dO, s.qElements() * 2, "dO");
        need(lse, (long) s.batch() * s.qHeads() * s.tokens() * 4, "lse");
        device.zero(dq, s.qElements() * 4);
        device.zero(dk, s.kvElements() * 4);
        device.zero(dv, s.kvElements() * 4);
        long rows = (long) s.batch() * s.tokens() * s.qHeads();
        try (DeviceBuffer dvec = allocate(rows * 4)) {
            if (oLo != null) need(oLo, s.qElements() * 2, "oLo");
            kernels.launch(CudaKernels.flashBackwardPreprocess(s.headDim(), oLo != null),
                    new int[] {(int) ((rows + 7) / 8), 1, 1}, CudaKernels.BWD_PRE_THREADS, 0, device.stream(),
                    oLo != null
                            ? Pointer.to(ptr(dvec), ptr(o), ptr(dO), ints(s.batch()), ints(s.tokens()), ints(s.qHeads()), ptr(oLo))
                            : Pointer.to(ptr(dvec), ptr(o), ptr(dO), ints(s.batch()), ints(s.tokens()), ints(s.qHeads())));
            CudaKernels.BwdVariant bv = backwardVariant(s);
            int kvTile = CudaKernels.flashBackwardKvTile(s.headDim());
            int[] grid = {(s.tokens() + kvTile - 1) / kvTile, s.qHeads(), s.batch()};
            boolean deterministic = deterministicBackward();
            if (deterministic && !CudaKernels.hasDeterministicBackward(s.headDim(), bv))
                throw new UnsupportedOperationException("a deterministic backward (ccalab.flash.deterministic=true or the run's "
                        + "deterministic option) exists at head dims " + DeterministicBackward.deterministicHeadDims(
                        CudaKernels.BwdVariant.MMA) + " on every device and " + DeterministicBackward.deterministicHeadDims()
                        + " on the wgmma kernels (the sm_90a image); this is head dim " + s.headDim() + " on the "
                        + (bv == CudaKernels.BwdVariant.WGMMA ? "wgmma" : "mma.sync") + " kernels");
            // the deterministic kernels take the semaphores that order their adds as one more argument
            long semBytes = deterministic ? CudaKernels.deterministicSemaphores(s) * 4 : 0;
            try (DeviceBuffer sem = deterministic ? allocate(semBytes) : null) {
                Pointer[] args = {ptr(dq), ptr(dk), ptr(dv), ptr(q), ptr(k), ptr(v), ptr(dO), ptr(lse), ptr(dvec),
                        ints(s.tokens()), ints(s.qHeads()), ints(s.kvHeads()), floats((float) scale)};
                List<Pointer> all = new ArrayList<>(List.of(args));
                if (deterministic) {
                    device.zero(sem, semBytes);
                    all.add(ptr(sem));
                }
                if (windowed) all.add(ints(window));
                boolean tma = !deterministic && !windowed && tmaBackward(s, bv, q, k, v, dO, dq);
                if (tma) {  // the kernel's __grid_constant__ tensor maps, last: Q, K, V, dO (bf16), dQ (fp32)
                    int d = s.headDim();
                    all.add(Pointer.to(CudaTensorMaps.encode(q.address(), s.batch(), s.tokens(), s.qHeads(), d, 64, false)));
                    all.add(Pointer.to(CudaTensorMaps.encode(k.address(), s.batch(), s.tokens(), s.kvHeads(), d)));
                    all.add(Pointer.to(CudaTensorMaps.encode(v.address(), s.batch(), s.tokens(), s.kvHeads(), d)));
                    all.add(Pointer.to(CudaTensorMaps.encode(dO.address(), s.batch(), s.tokens(), s.qHeads(), d, 64, false)));
                    all.add(Pointer.to(CudaTensorMaps.encode(dq.address(), s.batch(), s.tokens(), s.qHeads(), d, 64, true)));
                }
                String kernel = windowed ? CudaKernels.flashBackwardWindowed(s.headDim(), bv, deterministic)
                        : tma ? CudaKernels.flashBackwardTma(s.headDim(), causal, bv)
                        : CudaKernels.flashBackward(s.headDim(), causal, bv, deterministic);
                kernels.launch(kernel, grid, bv.threads(), bv.smem(s.headDim()), device.stream(),
                        Pointer.to(all.toArray(Pointer[]::new)));
            }
        }
    }

    /**
     * Whether this backend's backward runs the deterministic kernels on this thread now: ccalab.flash.deterministic,
     * or a run's {@link #DETERMINISTIC_BACKWARD} binding.
     */
    public boolean deterministicBackward() {
        return deterministicBackward || DETERMINISTIC_BACKWARD.orElse(false);
    }

    /**
     * How decode splits the cache: {@code splits} chunks of {@code chunk} keys each; {@code fused}: decode v3 (one
     * launch, the combine in the last block of each KV head) instead of v2 (split kernel + combine kernel). v3's
     * splits are a whole number of clusters (CudaKernels.DECODE_V3_CLUSTER); the trailing ones may be empty.
     */
    public record DecodeSplit(int splits, int chunk, boolean fused) {
        /** The partial results the combine merges: one per cluster for v3, one per split for v2. */
        public int partials() {
            return fused ? splits / CudaKernels.DECODE_V3_CLUSTER : splits;
        }
    }

    /** Below this many (sequence, KV head) pairs decode runs v3; at and above it v2 (decode lab, session 3). */
    static final int DECODE_V3_BELOW = 16;

    public DecodeSplit decodeSplit(int batch, int qHeads, int kvHeads, int length, int headDim) {
        return decodeSplit(batch, qHeads, kvHeads, length, headDim, multiprocessors());
    }

    /**
     * v3 where B x Hkv < 16 (batch 1 with few KV heads): one 8-warp block per SM over B x Hkv x S blocks, chunks
     * whole 64-key tiles (D=128), at most 256 splits, rounded up to whole clusters. The decode lab (docs/perf-log.md "Decode v3") measured one
     * block per SM best at batch 1 for G=4 (more splits make the fused combine longer) and v3 behind v2 by 5-20%
     * once B x Hkv >= 16. v2 elsewhere: about four 4-warp blocks per SM, eight when G >= 4 (those blocks do G dot
     * products per key and were ALU-bound with fewer), chunks of at least 256 keys, a multiple of 64. Runs 3-4:
     * eight blocks per SM cost MHA shapes 8%; four cost G=4 a quarter of its bandwidth.
     */
    static DecodeSplit decodeSplit(int batch, int qHeads, int kvHeads, int length, int headDim, int multiprocessors) {
        if (length <= 0) throw new IllegalArgumentException("length " + length + " must be positive");
        int pairs = batch * kvHeads;
        if (pairs < DECODE_V3_BELOW) {
            int tile = CudaKernels.decodeTileKeys(headDim);
            int want = Math.max(1, Math.min(Math.min(ceil(multiprocessors, pairs), ceil(length, tile)),
                    CudaKernels.DECODE_V3_MAX_SPLITS));
            int chunk = ceil(ceil(length, want), tile) * tile;
            int cl = CudaKernels.DECODE_V3_CLUSTER;
            return new DecodeSplit(ceil(ceil(length, chunk), cl) * cl, chunk, true);
        }
        int perSm = qHeads / kvHeads >= 4 ? 8 : 4;
        int want = Math.max(1, Math.min(ceil(perSm * multiprocessors, pairs), ceil(length, 256)));
        int chunk = ceil(ceil(length, want), 64) * 64;
        return new DecodeSplit(ceil(length, chunk), chunk, false);
    }

    /**
     * One query token per sequence: o [B, Hq, D] from q [B, Hq, D] over the first {@code length} positions of
     * the caches kCache, vCache [B, capacity, Hkv, D] (the prefill layout). Workspace comes from the pool.
     */
    public void decode(DeviceBuffer o, DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache, int batch, int length,
                       int capacity, int qHeads, int kvHeads, int headDim) {
        decode(o, q, kCache, vCache, batch, length, capacity, qHeads, kvHeads, headDim, 0, DecodeMerge.AUTO);
    }

    /**
     * How decode v3 merges the partials of its splits. LAST_BLOCK: the last block of each (sequence, KV head) to
     * finish merges all S partials alone (session 3). SPIN: every block, once all S blocks of its group have written
     * their partials (it spins on an arrival counter), merges a slice of the G x D outputs (session 4: 1-3 us less
     * per call at batch 1, docs/perf-log.md "Session 4, dec"). SPIN is deadlock-free only where the whole grid is
     * co-resident; AUTO takes it exactly there (decodeSpinFits, an occupancy query) and LAST_BLOCK elsewhere.
     */
    public enum DecodeMerge { AUTO, LAST_BLOCK, SPIN }

    /**
     * decode with the split count and merge forced (tests of the fused path): forcedSplits > 0 runs v3 with about
     * that many splits (whole tiles, at most DECODE_V3_MAX_SPLITS), 0 keeps the rule; forcing SPIN where the grid
     * would not be co-resident is refused (it could deadlock).
     */
    void decode(DeviceBuffer o, DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache, int batch, int length,
                int capacity, int qHeads, int kvHeads, int headDim, int forcedSplits, DecodeMerge merge) {
        AttentionShape s = new AttentionShape(batch, capacity, qHeads, kvHeads, headDim);
        if (length <= 0 || length > capacity)
            throw new IllegalArgumentException("length " + length + " outside [1, capacity=" + capacity + "]");
        int g = s.group();
        if (g != 1 && g != 2 && g != 4 && g != 8)
            throw new IllegalArgumentException("nKvHeads: qHeads/kvHeads = " + g + " has no decode kernel (1, 2, 4 or 8)");
        need(o, (long) batch * qHeads * headDim * 2, "o");
        need(q, (long) batch * qHeads * headDim * 2, "q");
        need(kCache, s.kvElements() * 2, "kCache");
        need(vCache, s.kvElements() * 2, "vCache");
        DecodeSplit sp = forcedSplits > 0 ? forcedDecodeSplit(length, headDim, forcedSplits)
                : decodeSplit(batch, qHeads, kvHeads, length, headDim);
        float scale = (float) (1.0 / Math.sqrt(headDim));
        if (sp.fused() && sp.partials() == 1) {  // one cluster per KV head: no partials, no counters
            kernels.launch(CudaKernels.decode(headDim, g), new int[] {sp.splits(), kvHeads, batch},
                    CudaKernels.DECODE_V3_WARPS * 32, CudaKernels.decodeSmem(headDim, g), device.stream(),
                    Pointer.to(ptr(o), Pointer.to(new long[] {0}), Pointer.to(new long[] {0}), Pointer.to(new long[] {0}),
                            ptr(q), ptr(kCache), ptr(vCache), ints(length), ints(capacity), ints(kvHeads), ints(sp.chunk()),
                            floats(scale)));
            return;
        }
        try (DeviceBuffer partO = allocate((long) batch * qHeads * sp.partials() * headDim * 4);
             DeviceBuffer partMl = allocate((long) batch * qHeads * sp.partials() * 2 * 4)) {
            if (sp.fused()) {
                boolean spin = decodeMerge(merge, sp, batch, kvHeads, headDim, g) == DecodeMerge.SPIN;
                // SPIN: one 64-bit arrival counter per (sequence, KV head), in their own buffer (it keeps counting:
                // common/mma.cuh group_arrive_share); LAST_BLOCK: one arrival counter per group, left zero by every launch.
                kernels.launch(spin ? CudaKernels.decodeSpin(headDim, g) : CudaKernels.decode(headDim, g),
                        new int[] {sp.splits(), kvHeads, batch},
                        CudaKernels.DECODE_V3_WARPS * 32, CudaKernels.decodeSmem(headDim, g), device.stream(),
                        Pointer.to(ptr(o), ptr(partO), ptr(partMl),
                                ptr(spin ? spinCounters.get(2 * batch * kvHeads) : lastBlockCounters.get(batch * kvHeads)), ptr(q),
                                ptr(kCache), ptr(vCache), ints(length), ints(capacity), ints(kvHeads), ints(sp.chunk()),
                                floats(scale)));
            } else {
                kernels.launch(CudaKernels.decodeSplit(headDim, g), new int[] {sp.splits(), kvHeads, batch},
                        CudaKernels.DECODE_THREADS, 0, device.stream(), Pointer.to(ptr(partO), ptr(partMl), ptr(q),
                                ptr(kCache), ptr(vCache), ints(length), ints(capacity), ints(kvHeads), ints(sp.chunk()),
                                floats(scale)));
                kernels.launch(CudaKernels.decodeCombine(headDim), new int[] {qHeads, batch, 1}, headDim, 0,
                        device.stream(), Pointer.to(ptr(o), ptr(partO), ptr(partMl), ints(qHeads), ints(sp.splits())));
            }
            // The pool may hand the workspace to the next call while these kernels are queued: same stream,
            // so the next user's kernels run after them; only a host read would race, and none happens.
        }
    }

    /** v3 with {@code splits} forced (whole tiles; the last split may be shorter): see decode's forcedSplits. */
    static DecodeSplit forcedDecodeSplit(int length, int headDim, int splits) {
        if (splits < 1 || splits > CudaKernels.DECODE_V3_MAX_SPLITS)
            throw new IllegalArgumentException("splits " + splits + " outside [1, " + CudaKernels.DECODE_V3_MAX_SPLITS + "]");
        int tile = CudaKernels.decodeTileKeys(headDim);
        int chunk = ceil(ceil(length, splits), tile) * tile;
        return new DecodeSplit(ceil(length, chunk), chunk, true);
    }

    /** The merge a fused launch of {@code sp} runs: AUTO resolves to SPIN exactly where the grid is co-resident. */
    DecodeMerge decodeMerge(DecodeMerge wanted, DecodeSplit sp, int batch, int kvHeads, int headDim, int group) {
        if (wanted == DecodeMerge.LAST_BLOCK) return wanted;
        boolean fits = decodeSpinFits(headDim, group, sp.splits() * kvHeads * batch);
        if (wanted == DecodeMerge.SPIN && !fits)
            throw new IllegalArgumentException("decode SPIN merge refused: " + sp.splits() * kvHeads * batch
                    + " blocks are not co-resident on this device (it could deadlock)");
        return fits ? DecodeMerge.SPIN : DecodeMerge.LAST_BLOCK;
    }

    private final Map<String, Integer> spinBlocksPerSm = new HashMap<>();

    /**
     * Whether {@code blocks} blocks of the SPIN instance fit on the device at once (blocks per SM from the
     * occupancy API x SMs): then every block that spins waits only on blocks that are running, never on one
     * that cannot be scheduled.
     */
    boolean decodeSpinFits(int headDim, int group, int blocks) {
        String name = CudaKernels.decodeSpin(headDim, group);
        int perSm = spinBlocksPerSm.computeIfAbsent(name, n -> {
            int smem = CudaKernels.decodeSmem(headDim, group);
            int[] out = new int[1];
            int rc = JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(out,
                    kernels.function(n, smem), CudaKernels.DECODE_V3_WARPS * 32, smem);
            return rc == 0 ? out[0] : 0;  // an error: never spin
        });
        return (long) perSm * multiprocessors() >= blocks;
    }

    /**
     * Decode v3's per-(sequence, KV head) counters: zeroed once on the stream when (re)allocated, then owned by the
     * kernels. LAST_BLOCK leaves its arrival counter zero after every launch; SPIN's 64-bit counter (2 ints) keeps
     * counting in its high word (any multiple of 2^32 is a valid start), so the two merges keep separate buffers.
     */
    private final class DecodeCounters {
        private DeviceBuffer buffer;
        private int slots;

        DeviceBuffer get(int want) {
            if (buffer == null || slots < want) {
                if (buffer != null) buffer.close();
                slots = Math.max(want, 1024);
                buffer = allocate(slots * 4L);
                device.zero(buffer, slots * 4L);
            }
            return buffer;
        }

        void close() {
            if (buffer != null) buffer.close();
        }
    }

    private final DecodeCounters lastBlockCounters = new DecodeCounters(), spinCounters = new DecodeCounters(),
            mlaSpinCounters = new DecodeCounters();

    /**
     * The MLA decode's fused-merge counters (CudaMla.decode, mla_decode_ring's SPIN: one 64-bit arrival counter, 2
     * ints, per (sequence, head group)), at least {@code ints} of them: one buffer for the backend's life, shared by
     * every CudaMla on its stream, since the counters keep counting.
     */
    DeviceBuffer mlaSpinCounters(int ints) {
        return mlaSpinCounters.get(ints);
    }

    /** Decode v3's SPIN counters (2 ints per (sequence, KV head)), at least {@code ints} of them (tests read them). */
    DeviceBuffer decodeSpinCounters(int ints) {
        return spinCounters.get(ints);
    }

    /** CCA/CCGQA prologue options (cca.md steps 4, 6, 7). */
    public record PrologueOptions(int rotaryDims, double ropeBase, KeyTemperature temperature, double normEps,
                                  boolean qkMean) {}

    /**
     * q̂ [B, T, Hq, D], k̂ [B, T, Hkv, D] from the packed projections z [B, T, (Hq + Hkv) D]: both convs,
     * q-k mean, L2 norm with key temperature, partial RoPE.
     */
    public void ccaPrologue(DeviceBuffer qOut, DeviceBuffer kOut, DeviceBuffer z, CcaPrologueWeights w,
                            AttentionShape s, PrologueOptions opt) {
        if (!s.hasCcaPrologue())
            throw new IllegalArgumentException("no CCA prologue kernel for headDim " + s.headDim() + " (64, 128 and 256 have one)");
        long c = (long) (s.qHeads() + s.kvHeads()) * s.headDim();
        need(z, (long) s.batch() * s.tokens() * c * 2, "z");
        need(qOut, s.qElements() * 2, "qOut");
        need(kOut, s.kvElements() * 2, "kOut");
        need(w.w1t(), (s.qHeads() + s.kvHeads()) * (long) w.k1() * s.headDim() * s.headDim() * 4, "w1t");
        if (opt.rotaryDims() < 0 || opt.rotaryDims() > s.headDim() || opt.rotaryDims() % 2 != 0)
            throw new IllegalArgumentException("rotaryDims " + opt.rotaryDims() + " must be even and within [0, headDim]");
        CudaKernels.Prologue impl = prologue;
        int tt = CudaKernels.ccaTokensPerBlock(impl, s.tokens(), s.qHeads() + s.kvHeads(), s.batch(), multiprocessors());
        ccaPrologue(qOut, kOut, z, w, s, opt, impl, tt);
    }

    /** As above with the implementation and the block height chosen (tests force both heights). */
    void ccaPrologue(DeviceBuffer qOut, DeviceBuffer kOut, DeviceBuffer z, CcaPrologueWeights w, AttentionShape s,
                     PrologueOptions opt, CudaKernels.Prologue impl, int tt) {
        if (tt != CudaKernels.ccaTokensPerBlock(impl) && !(impl == CudaKernels.Prologue.TENSOR_CORE && tt == CudaKernels.CCA_TT_SHORT))
            throw new IllegalArgumentException("no " + impl + " prologue instance with " + tt + " tokens per block");
        int smem = CudaKernels.ccaSmem(impl, s.headDim(), w.k0(), w.k1(), tt);
        int[] grid = {(s.tokens() + tt - 1) / tt, s.qHeads() + s.kvHeads(), s.batch()};
        kernels.launch(CudaKernels.ccaPrologue(impl, s.headDim(), tt), grid, CudaKernels.ccaThreads(impl, s.headDim()), smem,
                device.stream(),
                Pointer.to(ptr(qOut), ptr(kOut), ptr(z), ptr(w.w0()), ptr(w.b0()), ptr(w.w1t()), ptr(w.b1()),
                        ptr(w.theta()), ints(s.tokens()), ints(s.qHeads()), ints(s.kvHeads()), ints(w.k0()),
                        ints(w.k1()), ints(opt.rotaryDims()), floats((float) opt.ropeBase()),
                        ints(opt.temperature().ordinal()), floats((float) opt.normEps()), ints(opt.qkMean() ? 1 : 0)));
    }

    /**
     * One CCA/CCGQA decode token at position {@code pos} (cca.md section 3): q [B, Hq, D] from the new token's
     * packed projections z [B, (Hq + Hkv) D] and the conv window [B, P, (Hq + Hkv) D] (raw z of the previous
     * P = k0 - 1 + k1 - 1 tokens, oldest first, zeros at the start; shifted in place); k^ appended to kCache
     * [B, capacity, Hkv, D] at row pos; v = [W_vc x_t ; W_vd x_{t-1}] appended to vCache from vc = W_vc x_t
     * [B, Dk/2] and the value-shift state vState [B, Dk/2] (W_vd x_{t-1}), which becomes vdNew = W_vd x_t.
     * The cache thus holds shifted values: decode attention reads it with no shift (vShiftFrom = Hkv).
     */
    public void ccaDecodeStep(DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache, DeviceBuffer window,
                              DeviceBuffer vState, DeviceBuffer z, DeviceBuffer vc, DeviceBuffer vdNew, CcaPrologueWeights w,
                              AttentionShape s, int pos, PrologueOptions opt) {
        if (!s.hasCcaPrologue())
            throw new IllegalArgumentException("no CCA decode kernel for headDim " + s.headDim() + " (64, 128 and 256 have one)");
        if (pos < 0 || pos >= s.tokens())
            throw new IllegalArgumentException("pos " + pos + " outside the cache capacity " + s.tokens());
        if (w.k0() > 16 || w.k1() > 16)
            throw new IllegalArgumentException("conv sizes k0 " + w.k0() + ", k1 " + w.k1() + ": the decode kernel takes up to 16");
        long c = (long) (s.qHeads() + s.kvHeads()) * s.headDim(), half = (long) s.kvHeads() * s.headDim() / 2;
        int p = w.k0() - 1 + w.k1() - 1;
        need(q, (long) s.batch() * s.qHeads() * s.headDim() * 2, "q");
        need(kCache, s.kvElements() * 2, "kCache");
        need(vCache, s.kvElements() * 2, "vCache");
        need(window, (long) s.batch() * p * c * 2, "window");
        need(z, (long) s.batch() * c * 2, "z");
        need(vState, s.batch() * half * 2, "vState");
        need(vc, s.batch() * half * 2, "vc");
        need(vdNew, s.batch() * half * 2, "vdNew");
        kernels.launch(CudaKernels.ccaDecodeStep(s.headDim()), new int[] {s.qHeads() + s.kvHeads(), s.batch(), 1},
                s.headDim(), 0, device.stream(),
                Pointer.to(ptr(q), ptr(kCache), ptr(vCache), ptr(window), ptr(vState), ptr(z), ptr(vc), ptr(vdNew),
                        ptr(w.w0()), ptr(w.b0()), ptr(w.w1t()), ptr(w.b1()), ptr(w.theta()), ints(pos), ints(s.tokens()),
                        ints(s.qHeads()), ints(s.kvHeads()), ints(w.k0()), ints(w.k1()), ints(opt.rotaryDims()),
                        floats((float) opt.ropeBase()), ints(opt.temperature().ordinal()), floats((float) opt.normEps()),
                        ints(opt.qkMean() ? 1 : 0)));
    }

    /** v [B, T, Dk] from y [B, T, Dk]: channels >= Dk/2 take the previous token (zeros at t=0). */
    public void valueShift(DeviceBuffer v, DeviceBuffer y, int batch, int tokens, int width) {
        long n = (long) batch * tokens * width;
        need(v, n * 2, "v");
        need(y, n * 2, "y");
        int blocks = (int) Math.min(4096, (n + 255) / 256);
        kernels.launch(CudaKernels.VALUE_SHIFT, new int[] {blocks, 1, 1}, 256, 0, device.stream(),
                Pointer.to(ptr(v), ptr(y), ints(batch), ints(tokens), ints(width)));
    }

    private static void need(DeviceBuffer b, long bytes, String name) {
        if (b.bytes() < bytes)
            throw new IllegalArgumentException(name + ": device buffer of " + b.bytes() + " bytes, the shape needs " + bytes);
    }

    private static int ceil(int a, int b) {
        return (a + b - 1) / b;
    }

    @Override
    public void close() {
        device.synchronize();
        lastBlockCounters.close();
        spinCounters.close();
        mlaSpinCounters.close();
        cublas.close();
        kernels.close();
        device.close();
    }

    // ---------------------------------------------------------------- for launchers outside this class

    /** The backend's cuBLAS handle (bound to its stream), for CudaCcaLayer's strided and fp32 GEMMs. */
    Cublas cublas() {
        return cublas;
    }
}
