package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntConsumer;
import java.util.logging.Logger;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.Scope;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.CompressedConvSpec;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.run.RunStoppedException;
import org.ccalab.engine.run.RunObserver;

/**
 * One BENCHMARK run on the GPU: the variant at (batch, seqLen) for each requested phase x scope our kernels
 * cover, on random bf16 inputs and weights. FORWARD/CORE = attention (with the CCA prologue for CCA/CCGQA);
 * FORWARD/LAYER = projections (cuBLAS) + core + output projection; DECODE/CORE = one token over a KV cache of
 * seqLen; BACKWARD/CORE for MHA/GQA (head dims 64, 128, 256). MLA ({@link CudaMlaBenchmark}): FORWARD and DECODE,
 * CORE and LAYER (its layer with RoPE, norms and the latent cache), BACKWARD/CORE. Not covered, and logged as such:
 * BACKWARD for CCA/CCGQA and layers, DECODE/LAYER but for MLA, dtypes other than bf16 (INVALID_CONFIG). MHA/GQA layers here carry no RoPE.
 * Errors: MHA/GQA core cells carry the same kernel's error against the float64 CPU reference at a small shape
 * ({@link #referenceError}); the others are NaN and covered by {@link CudaBenchCli}'s checks and the gpu tests.
 */
final class CudaBenchmarkRun {
    private static final Logger LOG = Logger.getLogger(CudaBenchmarkRun.class.getName());

    /** The variant's attention shape and, for CCA/CCGQA, its conv spec. */
    record Shape(int dModel, int qHeads, int kvHeads, int headDim, CompressedConvSpec conv) {
        static Shape of(AttentionConfig c) {
            return switch (c) {
                case MhaConfig m -> new Shape(m.dModel(), m.nHeads(), m.nHeads(), m.headDim(), null);
                case GqaConfig g -> new Shape(g.dModel(), g.nHeads(), g.nKvHeads(), g.headDim(), null);
                case CcaConfig a -> of(a.asGrouped());
                case CcgqaConfig g -> new Shape(g.dModel(), g.nQHeads(), g.nKvHeads(), g.headDim(), g.conv());
                default -> throw new InvalidConfigException("variant.family",
                        "no CUDA kernels for " + c.family() + " (mha, gqa, cca, ccgqa, mla have them)");
            };
        }
    }

    private final CudaBackend cuda;
    private final RunSpec spec;
    private final BenchmarkSpec bs;
    private final RunObserver observer;
    private final Shape shape;                 // null for MLA
    private final CudaMlaBenchmark mla;        // null but for MLA

    CudaBenchmarkRun(CudaBackend cuda, RunSpec spec, RunObserver observer) {
        this.cuda = cuda;
        this.spec = spec;
        this.bs = spec.benchmark();
        this.observer = observer;
        if (!bs.dtype().equals("bf16"))
            throw new InvalidConfigException("benchmark.dtype", "the CUDA kernels are bf16 only, got " + bs.dtype());
        if (spec.variant() instanceof MlaConfig m) {
            this.shape = null;
            this.mla = new CudaMlaBenchmark(cuda, m, bs, spec.seed());
            return;
        }
        this.shape = Shape.of(spec.variant());
        this.mla = null;
        new AttentionShape(bs.batch(), bs.seqLen(), shape.qHeads(), shape.kvHeads(), shape.headDim());
    }

    void execute() {
        if (mla != null) {
            executeMla();
            return;
        }
        List<BenchmarkCell> cells = new ArrayList<>();
        for (Phase phase : bs.phases())
            for (Scope scope : bs.scopes()) {
                if (observer.stopRequested()) throw new RunStoppedException(0);
                cuda.device().pool().resetPeak();
                double[] ms = switch (phase) {
                    case FORWARD -> scope == Scope.CORE ? forwardCore() : forwardLayer();
                    case DECODE -> scope == Scope.CORE ? decodeCore() : null;
                    case BACKWARD -> scope == Scope.CORE && shape.conv() == null && attentionShape().hasBackward()
                            ? backwardCore() : null;
                };
                if (ms == null) {
                    LOG.warning(() -> "CUDA benchmark: " + phase + "/" + scope + " is not implemented; no cell");
                    continue;
                }
                cells.add(cell(phase, scope, ms));
            }
        observer.cells(cells);
    }

    /** MLA: FORWARD and DECODE cells for each scope, BACKWARD for the core; BACKWARD/LAYER has no kernel, no cell. */
    private void executeMla() {
        List<BenchmarkCell> cells = new ArrayList<>();
        for (Phase phase : bs.phases()) {
            for (Scope scope : bs.scopes()) {
                if (!CudaMlaBenchmark.covers(phase, scope)) {
                    LOG.warning(() -> "CUDA benchmark: MLA " + phase + "/" + scope + " has no kernel (no layer backward); no cell");
                    continue;
                }
                if (observer.stopRequested()) throw new RunStoppedException(0);
                cuda.device().pool().resetPeak();
                double[] ms = mla.measure(phase, scope, this::time);
                cells.add(mla.cell(phase, scope, ms, cuda.device().pool().peakLiveBytes()));
            }
        }
        observer.cells(cells);
    }

    private BenchmarkCell cell(Phase phase, Scope scope, double[] ms) {
        int b = bs.batch(), t = bs.seqLen(), hq = shape.qHeads(), hkv = shape.kvHeads(), d = shape.headDim(), e = shape.dModel();
        double s = ms[1] / 1e3;
        double attn = (bs.causal() ? 2.0 : 4.0) * b * hq * (double) t * t * d;
        double proj = 2.0 * b * t * e * ((double) (hq + 2 * hkv) * d + (double) hq * d);
        long kvPerToken = 2L * hkv * d * 2;
        double flops = switch (phase) {
            case DECODE -> 4.0 * b * hq * (double) t * d;
            case BACKWARD -> 2.5 * attn;
            default -> scope == Scope.LAYER ? attn + proj : attn;
        };
        double bytes = phase == Phase.DECODE ? (double) b * t * kvPerToken
                : 2.0 * b * t * (hq + 2 * hkv) * d + 2.0 * b * t * hq * d;
        long peak = cuda.device().pool().peakLiveBytes();  // of the measurement just finished, before the check allocates
        CudaBenchCli.Err err = referenceError(phase, scope);
        return new BenchmarkCell(phase, scope, bs.causal(), b, t, "bf16", "cuda", ms[0], ms[1], ms[2], flops / s / 1e12,
                bytes / s, peak, kvPerToken, err == null ? Double.NaN : err.maxAbs(), err == null ? Double.NaN : err.rel());
    }

    /**
     * The cell's kernel against the float64 CPU reference at a small shape of the same variant (batch 1, up to 256
     * tokens; decode over up to 512 cached tokens) on fresh bf16 inputs, as CudaBenchCli's check phase measures it:
     * the timed shape itself would take the CPU minutes. MHA/GQA cores; the CCA prologue and the layers are
     * checked by CudaBenchCli's layer checks and the gpu tests, not per cell (NaN).
     */
    private CudaBenchCli.Err referenceError(Phase phase, Scope scope) {
        if (scope != Scope.CORE || shape.conv() != null) return null;
        String family = spec.variant().family();
        var v = new CudaBenchCli.Variant(family, family, shape.qHeads(), shape.kvHeads(), shape.headDim());
        AttentionKernel ref = CpuBackend.create().attention();
        CudaBenchCli checks = new CudaBenchCli(cuda, 1);
        int t = Math.min(bs.seqLen(), 256), cached = Math.min(bs.seqLen(), 512);
        return switch (phase) {
            case FORWARD -> checks.flashForwardCheck(ref, v, 1, t, bs.causal()).out();
            case BACKWARD -> checks.backwardErrors(ref, v, 1, t, bs.causal()).values().stream()
                    .max(java.util.Comparator.comparingDouble(CudaBenchCli.Err::rel)).orElseThrow();
            case DECODE -> checks.decodeErrors(ref, v, 1, cached, cached)[0];
        };
    }

    private double[] time(IntConsumer body) {
        for (int i = 0; i < bs.warmup(); i++) body.accept(i);
        cuda.synchronize();
        double[] ms = new double[bs.iterations()];
        try (CudaDevice.Timer timer = cuda.device().new Timer()) {
            for (int i = 0; i < ms.length; i++) {
                timer.start();
                body.accept(i);
                ms[i] = timer.stopMillis();
            }
        }
        Arrays.sort(ms);
        int n = ms.length;
        return new double[] {ms[n / 10], ms[n / 2], ms[Math.min(n - 1, n * 9 / 10)]};
    }

    private DeviceBuffer random(List<DeviceBuffer> held, long n, long seed, double scale) {
        return randomBf16(cuda, held, n, spec.seed() * 31 + seed, scale);
    }

    private DeviceBuffer alloc(List<DeviceBuffer> held, long bytes) {
        return scratch(cuda, held, bytes);
    }

    /** n bf16 values, uniform with unit variance times scale, from a seed; added to held (closed by the caller). */
    static DeviceBuffer randomBf16(CudaBackend cuda, List<DeviceBuffer> held, long n, long seed, double scale) {
        double[] x = CudaBenchCli.Random.doubles(n, seed);
        for (int i = 0; i < x.length; i++) x[i] *= scale;
        DeviceBuffer buf = cuda.uploadBf16(Bf16.fromDoubles(x));
        held.add(buf);
        return buf;
    }

    /** Uninitialised device memory, added to held. */
    static DeviceBuffer scratch(CudaBackend cuda, List<DeviceBuffer> held, long bytes) {
        DeviceBuffer buf = cuda.allocate(bytes);
        held.add(buf);
        return buf;
    }

    private AttentionShape attentionShape() {
        return new AttentionShape(bs.batch(), bs.seqLen(), shape.qHeads(), shape.kvHeads(), shape.headDim());
    }

    /** What the CCA/CCGQA prologue needs besides z: random conv weights and theta, and the options. */
    private record Prologue(CcaPrologueWeights weights, CudaBackend.PrologueOptions options) {}

    private Prologue prologue(List<DeviceBuffer> held) {
        CompressedConvSpec conv = shape.conv();
        int d = shape.headDim(), groups = shape.qHeads() + shape.kvHeads(), c = groups * d;
        int k0 = conv.convSeqKernel(), k1 = conv.convChannelKernel();
        float[] w1 = CudaBenchCli.Random.floats(c * d * k1, spec.seed() + 5, 1 / Math.sqrt(d * k1));
        CcaPrologueWeights w = new CcaPrologueWeights(
                keep(held, cuda.uploadFloats(CudaBenchCli.Random.floats(c * k0, spec.seed() + 1, 0.5))),
                keep(held, cuda.uploadFloats(CudaBenchCli.Random.floats(c, spec.seed() + 2, 0.1))),
                keep(held, cuda.uploadFloats(CcaPrologueWeights.repackW1(w1, groups, d, k1))),
                keep(held, cuda.uploadFloats(CudaBenchCli.Random.floats(c, spec.seed() + 3, 0.1))),
                keep(held, cuda.uploadFloats(CudaBenchCli.Random.floats(shape.kvHeads(), spec.seed() + 4, 0.3))), k0, k1);
        return new Prologue(w, new CudaBackend.PrologueOptions(conv.rope().rotaryDims(d), conv.rope().base(),
                conv.keyTemperature(), conv.normEps(), conv.qkMean()));
    }

    private static DeviceBuffer keep(List<DeviceBuffer> held, DeviceBuffer b) {
        held.add(b);
        return b;
    }

    private int vShiftFrom() {
        boolean shift = shape.conv() != null && shape.conv().valueShift();
        return shift ? shape.kvHeads() / 2 : shape.kvHeads();
    }

    private double[] forwardCore() {
        AttentionShape s = attentionShape();
        List<DeviceBuffer> held = new ArrayList<>();
        try {
            DeviceBuffer k = random(held, s.kvElements(), 2, 1), v = random(held, s.kvElements(), 3, 1);
            DeviceBuffer o = alloc(held, s.qElements() * 2), lse = alloc(held, (long) s.batch() * s.qHeads() * s.tokens() * 4);
            if (shape.conv() == null) {
                DeviceBuffer q = random(held, s.qElements(), 1, 1);
                return time(i -> cuda.flashForward(o, lse, q, k, v, s, bs.causal(), s.kvHeads()));
            }
            // The core of CCA is its prologue (z -> q̂, k̂) plus attention with the value shift fused in.
            checkShiftable();
            long c = (long) (s.qHeads() + s.kvHeads()) * s.headDim();
            DeviceBuffer z = random(held, (long) s.batch() * s.tokens() * c, 4, 1);
            DeviceBuffer q = alloc(held, s.qElements() * 2), kh = alloc(held, s.kvElements() * 2);
            Prologue p = prologue(held);
            return time(i -> {
                cuda.ccaPrologue(q, kh, z, p.weights(), s, p.options());
                cuda.flashForward(o, lse, q, kh, v, s, bs.causal(), vShiftFrom());
            });
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    private double[] forwardLayer() {
        AttentionShape s = attentionShape();
        int rows = s.batch() * s.tokens(), e = shape.dModel(), hq = s.qHeads(), hkv = s.kvHeads(), d = s.headDim();
        List<DeviceBuffer> held = new ArrayList<>();
        try {
            double ws = 1 / Math.sqrt(e);
            DeviceBuffer x = random(held, (long) rows * e, 10, 1), wo = random(held, (long) e * hq * d, 11, 1 / Math.sqrt(hq * d));
            DeviceBuffer q = alloc(held, s.qElements() * 2), k = alloc(held, s.kvElements() * 2), v = alloc(held, s.kvElements() * 2);
            DeviceBuffer o = alloc(held, s.qElements() * 2), lse = alloc(held, (long) s.batch() * hq * s.tokens() * 4);
            DeviceBuffer y = alloc(held, (long) rows * e * 2);
            if (shape.conv() == null) {
                DeviceBuffer wq = random(held, (long) hq * d * e, 12, ws), wk = random(held, (long) hkv * d * e, 13, ws);
                DeviceBuffer wv = random(held, (long) hkv * d * e, 14, ws);
                return time(i -> {
                    cuda.gemmNt(q, x, wq, rows, hq * d, e);
                    cuda.gemmNt(k, x, wk, rows, hkv * d, e);
                    cuda.gemmNt(v, x, wv, rows, hkv * d, e);
                    cuda.flashForward(o, lse, q, k, v, s, bs.causal(), hkv);
                    cuda.gemmNt(y, o, wo, rows, e, hq * d);
                });
            }
            checkShiftable();
            int c = (hq + hkv) * d;
            DeviceBuffer wqk = random(held, (long) c * e, 15, ws), wv = random(held, (long) hkv * d * e, 16, ws);
            DeviceBuffer z = alloc(held, (long) rows * c * 2);
            Prologue p = prologue(held);
            return time(i -> {
                cuda.gemmNt(z, x, wqk, rows, c, e);
                cuda.gemmNt(v, x, wv, rows, hkv * d, e);
                cuda.ccaPrologue(q, k, z, p.weights(), s, p.options());
                cuda.flashForward(o, lse, q, k, v, s, bs.causal(), vShiftFrom());
                cuda.gemmNt(y, o, wo, rows, e, hq * d);
            });
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    /** Odd Hkv splits a head mid-way; the fused shift moves whole heads (the kernel for that case is valueShift). */
    private void checkShiftable() {
        if (shape.conv().valueShift() && shape.kvHeads() % 2 != 0)
            throw new InvalidConfigException("variant.nKvHeads", "the CUDA benchmark fuses the value shift per head and"
                    + " needs an even nKvHeads, got " + shape.kvHeads());
        if (!bs.causal()) throw new InvalidConfigException("benchmark.causal", "CCA attention is causal");
    }

    /** Attention backward (MHA/GQA core); the CCA prologue and layer backward have no kernels yet. */
    private double[] backwardCore() {
        AttentionShape s = attentionShape();
        List<DeviceBuffer> held = new ArrayList<>();
        try {
            DeviceBuffer q = random(held, s.qElements(), 1, 1), k = random(held, s.kvElements(), 2, 1);
            DeviceBuffer v = random(held, s.kvElements(), 3, 1), g = random(held, s.qElements(), 5, 1);
            DeviceBuffer o = alloc(held, s.qElements() * 2), lse = alloc(held, (long) s.batch() * s.qHeads() * s.tokens() * 4);
            DeviceBuffer dq = alloc(held, s.qElements() * 4), dk = alloc(held, s.kvElements() * 4), dv = alloc(held, s.kvElements() * 4);
            cuda.flashForward(o, lse, q, k, v, s, bs.causal(), s.kvHeads());
            return time(i -> cuda.flashBackward(dq, dk, dv, q, k, v, o, lse, g, s, bs.causal()));
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    private double[] decodeCore() {
        int b = bs.batch(), len = bs.seqLen(), hq = shape.qHeads(), hkv = shape.kvHeads(), d = shape.headDim();
        AttentionShape cache = new AttentionShape(b, len, hq, hkv, d);
        List<DeviceBuffer> held = new ArrayList<>();
        try {
            DeviceBuffer q = random(held, (long) b * hq * d, 20, 1), k = random(held, cache.kvElements(), 21, 1);
            DeviceBuffer v = random(held, cache.kvElements(), 22, 1), o = alloc(held, (long) b * hq * d * 2);
            return time(i -> cuda.decode(o, q, k, v, b, len, len, hq, hkv, d));
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }
}
