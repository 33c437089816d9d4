package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Map;
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
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.cost.CostEstimate;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.run.RunStoppedException;
import org.ccalab.engine.run.RunObserver;

/**
 * One BENCHMARK run on the GPU: the variant at (batch, seqLen) for each requested phase x scope our kernels
 * cover, on random bf16 inputs and weights. Cells (CCA and CCGQA alike; MHA/GQA layers here carry no RoPE):
 * <ul>
 * <li>FORWARD/CORE: attention (with the prologue for CCA/CCGQA); FORWARD/LAYER: projections (cuBLAS) + core +
 * output projection.
 * <li>BACKWARD/CORE (head dims 64, 128; 256 for MHA/GQA): the flash backward, on the latent shape for CCA/CCGQA.
 * BACKWARD/LAYER (the same head dims): the whole layer's backward from saved activations: MHA/GQA = o_proj GEMM grads, flash
 * backward, q/k/v GEMM grads ({@link GqaLayer}); CCA/CCGQA = {@link CudaCcaLayer#backward} (flash, value-shift
 * and prologue backward, the stage-2 conv's GEMMs, projection grads).
 * <li>DECODE/CORE: one token over a KV cache of seqLen; DECODE/LAYER: one token through the whole layer
 * (projections, for CCA/CCGQA {@link CudaBackend#ccaDecodeStep}, split-KV decode, o_proj) after seqLen - 1
 * cached tokens.
 * </ul>
 * MLA ({@link CudaMlaBenchmark}): FORWARD, BACKWARD and DECODE, CORE and LAYER. Not covered, and logged as
 * such: backward at head dims other than 64, 128 and 256, the CCA decode layer without the value shift; dtypes other
 * than bf16 fail as INVALID_CONFIG. Decode cells are timed from CUDA-graph replays over L2-cold copies of their
 * inputs ({@link GraphTiming}); the others eagerly (their kernels run far longer than a launch).
 *
 * <p>FLOPs ({@link #flops}, CostModel's conventions): forward core = the causal (or full) attention term, forward
 * layer = CostModel's prefill FLOPs (linear and conv weights 2 per token, plus attention); backward = 2x the
 * forward's weight FLOPs (input and weight gradients) + 2.5x the attention term (FlashAttention-2's count);
 * decode = CostModel.decodeFlops (core: the attention over the cache only). Errors: every cell carries its kernel's
 * error against the float64 CPU reference at a small shape of the same variant ({@link #referenceError}).
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
    private final CudaOvqBenchmark ovq;        // null but for OVQ
    private long peakOverride = -1;            // a decode cell's one-copy peak, for the next cell(); -1: the pool's

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
            this.ovq = null;
            return;
        }
        if (spec.variant() instanceof OvqConfig o) {
            this.shape = null;
            this.mla = null;
            this.ovq = new CudaOvqBenchmark(cuda, o, bs, spec.seed());
            return;
        }
        this.shape = Shape.of(spec.variant());
        this.mla = null;
        this.ovq = null;
        new AttentionShape(bs.batch(), bs.seqLen(), shape.qHeads(), shape.kvHeads(), shape.headDim());
    }

    void execute() {
        if (mla != null) {
            executeMla();
            return;
        }
        if (ovq != null) {
            executeOvq();
            return;
        }
        List<BenchmarkCell> cells = new ArrayList<>();
        for (Phase phase : bs.phases())
            for (Scope scope : bs.scopes()) {
                if (observer.stopRequested()) throw new RunStoppedException(0);
                cuda.device().pool().resetPeak();
                double[] ms = !covers(shape, phase, scope) ? null : switch (phase) {
                    case FORWARD -> scope == Scope.CORE ? forwardCore() : forwardLayer();
                    case DECODE -> scope == Scope.CORE ? decodeCore() : decodeLayer();
                    case BACKWARD -> scope == Scope.CORE ? backwardCore() : backwardLayer();
                };
                if (ms == null) {
                    LOG.warning(() -> "CUDA benchmark: " + phase + "/" + scope + " is not covered for this variant (backward: head"
                            + " dim 64, 128 or 256, here " + shape.headDim() + "; CCA decode layer: with the value shift); no cell");
                    continue;
                }
                cells.add(cell(phase, scope, ms));
            }
        observer.cells(cells);
    }

    /** MLA: every phase and scope ({@link CudaMlaBenchmark}). */
    private void executeMla() {
        List<BenchmarkCell> cells = new ArrayList<>();
        for (Phase phase : bs.phases()) {
            for (Scope scope : bs.scopes()) {
                if (observer.stopRequested()) throw new RunStoppedException(0);
                cuda.device().pool().resetPeak();
                double[] ms = mla.measure(phase, scope, timing());
                cells.add(mla.cell(phase, scope, ms, measuredPeak()));
            }
        }
        observer.cells(cells);
    }

    /** OVQ: forward, backward and decode, core and layer ({@link CudaOvqBenchmark}; the CORE cells time the layer). */
    private void executeOvq() {
        List<BenchmarkCell> cells = new ArrayList<>();
        for (Phase phase : bs.phases()) {
            for (Scope scope : bs.scopes()) {
                if (observer.stopRequested()) throw new RunStoppedException(0);
                cuda.device().pool().resetPeak();
                double[] ms = ovq.measure(phase, scope, timing());
                cells.add(ovq.cell(phase, scope, ms, measuredPeak()));
            }
        }
        observer.cells(cells);
    }

    /** This run's timing (warmup and iterations of its spec; decode over L2-cold copies) for the per-family benchmarks. */
    private CudaMlaBenchmark.Timing timing() {
        return new CudaMlaBenchmark.Timing() {
            @Override
            public double[] time(IntConsumer body) {
                return CudaBenchmarkRun.this.time(body);
            }

            @Override
            public double[] timeDecode(long onePeak, IntConsumer body) {
                return CudaBenchmarkRun.this.timeDecode(onePeak, body);
            }
        };
    }

    /**
     * Whether the variant has the cell's kernels: backward needs head dim 64, 128 or 256 (flash_bwd_wide; the CCA
     * prologue backward at every one of them); the CCA/CCGQA decode layer needs the value shift (the decode step
     * kernel implements it).
     */
    static boolean covers(Shape shape, Phase phase, Scope scope) {
        if (phase == Phase.BACKWARD)
            return shape.headDim() == 64 || shape.headDim() == 128 || shape.headDim() == 256;
        return phase != Phase.DECODE || scope != Scope.LAYER || shape.conv() == null || shape.conv().valueShift();
    }

    /** The peak memory of the measurement just finished, before a check allocates (decode: of one input copy). */
    private long measuredPeak() {
        long peak = peakOverride >= 0 ? peakOverride : cuda.device().pool().peakLiveBytes();
        peakOverride = -1;
        return peak;
    }

    private BenchmarkCell cell(Phase phase, Scope scope, double[] ms) {
        int b = bs.batch(), t = bs.seqLen();
        double s = ms[1] / 1e3;
        long kvPerToken = CostModel.kvCacheBytesPerToken(spec.variant(), 2);
        double flops = b * flops(spec.variant(), phase, scope, t, bs.causal());
        double bytes = b * bytes(shape, CostModel.linearWeights(spec.variant()), phase, scope, t, kvPerToken);
        long peak = measuredPeak();
        CudaBenchCli.Err err = referenceError(phase, scope);
        return new BenchmarkCell(phase, scope, bs.causal(), b, t, "bf16", "cuda", ms[0], ms[1], ms[2], flops / s / 1e12,
                bytes / s, peak, kvPerToken, err == null ? Double.NaN : err.maxAbs(), err == null ? Double.NaN : err.rel());
    }

    /**
     * FLOPs of one sequence in CostModel's conventions. Forward: core = the attention term (causal: S(S+1)/2 pairs),
     * layer = prefill FLOPs (weights + convs + attention). Backward: 2x the forward's weight and conv FLOPs (input and
     * weight gradients; none in the core) + 2.5x its attention term. Decode at context S: core = the attention over
     * the cache, layer = CostModel.decodeFlops.
     */
    static double flops(AttentionConfig variant, Phase phase, Scope scope, int seqLen, boolean causal) {
        CostEstimate c = CostModel.estimate(variant, seqLen, 2);
        double attention = causal ? c.prefillFlopsCausal() - (c.prefillFlops() - c.prefillAttentionFlops()) : c.prefillAttentionFlops();
        double weights = c.prefillFlops() - c.prefillAttentionFlops();
        return switch (phase) {
            case FORWARD -> scope == Scope.CORE ? attention : weights + attention;
            case BACKWARD -> scope == Scope.CORE ? 2.5 * attention : 2 * weights + 2.5 * attention;
            case DECODE -> scope == Scope.CORE ? CostModel.decodeFlops(variant, seqLen) - CostModel.decodeFlops(variant, 0)
                    : CostModel.decodeFlops(variant, seqLen);
        };
    }

    /**
     * Bytes one sequence moves at least (bf16 activations, fp32 attention gradients). Decode: the KV cache read
     * (both scopes, as the MLA cells). Forward core: q, k, v in, o out; backward core: q, k, v, o, dO in, fp32 dq,
     * dk, dv out. Layers add x and the output (forward) or dOut and dx (backward) at width E, the bf16 weights
     * read once, and in backward the fp32 weight gradients read and written.
     */
    static double bytes(Shape shape, long linearWeights, Phase phase, Scope scope, int seqLen, long kvPerToken) {
        double q = (double) seqLen * shape.qHeads() * shape.headDim(), kv = (double) seqLen * shape.kvHeads() * shape.headDim();
        double io = 2.0 * 2 * seqLen * shape.dModel();
        return switch (phase) {
            case DECODE -> (double) seqLen * kvPerToken;
            case FORWARD -> 2 * (2 * q + 2 * kv) + (scope == Scope.CORE ? 0 : io + 2.0 * linearWeights);
            case BACKWARD -> 2 * (3 * q + 2 * kv) + 4 * (q + 2 * kv) + (scope == Scope.CORE ? 0 : io + 10.0 * linearWeights);
        };
    }

    /**
     * The cell's kernels against the float64 CPU reference at a small shape of the same variant (batch 1, up to 256
     * tokens; decode over up to 512 cached tokens, the CCA decode layer over up to 64 decoded tokens) on fresh bf16
     * inputs: the timed shape itself would take the CPU minutes. Cores: CudaBenchCli's kernel checks (the flash
     * backward and split-KV decode on the latent shape for CCA/CCGQA). Layers: {@link GqaLayer#check} (MHA/GQA with
     * the same shape and no RoPE, as timed) and {@link CudaCcaLayerCheck} (forward: the output; backward: the worst of
     * dx and every parameter gradient but the key temperature's, whose relative error measures its conditioning
     * rather than the kernels (CudaCcaLayerCheck's comment; the gpu test bounds it); decode: token-by-token decode
     * against the CPU forward rows). The CCA forward core (prologue + attention) is covered by the forward layer's
     * error and the gpu tests, not per cell (NaN).
     */
    private CudaBenchCli.Err referenceError(Phase phase, Scope scope) {
        int t = Math.min(bs.seqLen(), 256), cached = Math.min(bs.seqLen(), 512);
        if (scope == Scope.LAYER) {
            if (shape.conv() == null) {
                Map<String, CudaBenchCli.Err> err = GqaLayer.check(cuda, shape, phase, 1, phase == Phase.DECODE ? cached : t, spec.seed());
                return worst(err, phase);
            }
            CudaCcaLayerCheck check = new CudaCcaLayerCheck(ccgqa(), spec.seed());
            if (phase == Phase.DECODE) return check.decode(cuda, 1, Math.min(bs.seqLen(), 64), spec.seed() + 3);
            Map<String, CudaBenchCli.Err> err = new java.util.LinkedHashMap<>();
            check.run(cuda, 1, t, spec.seed() + 3).forEach((k, v) -> {
                if (!k.equals("temp")) err.put(k, v.err());
            });
            return worst(err, phase);
        }
        if (shape.conv() != null && phase == Phase.FORWARD) return null;
        String family = spec.variant().family();
        var v = new CudaBenchCli.Variant(family, family, shape.qHeads(), shape.kvHeads(), shape.headDim());
        AttentionKernel ref = CpuBackend.create().attention();
        CudaBenchCli checks = new CudaBenchCli(cuda, 1);
        return switch (phase) {
            case FORWARD -> checks.flashForwardCheck(ref, v, 1, t, bs.causal()).out();
            case BACKWARD -> checks.backwardErrors(ref, v, 1, t, bs.causal()).values().stream()
                    .max(Comparator.comparingDouble(CudaBenchCli.Err::rel)).orElseThrow();
            case DECODE -> checks.decodeErrors(ref, v, 1, cached, cached)[0];
        };
    }

    /** Forward: the output's error; backward: the worst gradient's (relative); decode: the decoded rows'. */
    private static CudaBenchCli.Err worst(Map<String, CudaBenchCli.Err> err, Phase phase) {
        if (phase != Phase.BACKWARD) return err.get("out");
        return err.entrySet().stream().filter(x -> !x.getKey().equals("out")).map(Map.Entry::getValue)
                .max(Comparator.comparingDouble(CudaBenchCli.Err::rel)).orElseThrow();
    }

    /** The CCA/CCGQA variant as a CcgqaConfig. */
    private CcgqaConfig ccgqa() {
        return switch (spec.variant()) {
            case CcaConfig a -> a.asGrouped();
            case CcgqaConfig g -> g;
            default -> throw new IllegalStateException("not a CCA variant: " + spec.variant().family());
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
        return GraphTiming.percentiles(ms);
    }

    /**
     * A decode cell's time: graph replays ({@link GraphTiming}) over {@code copies} L2-cold copies of the inputs
     * (the body rotates over them by call index), eager where the body cannot be captured. The cell's peak memory
     * is that of one copy ({@code onePeak}, read before the other copies were allocated).
     */
    private double[] timeDecode(long onePeak, IntConsumer body) {
        peakOverride = onePeak;
        double[] ms = GraphTiming.time(cuda.device(), bs.warmup(), bs.iterations(), body);
        if (ms != null) return ms;
        LOG.warning("CUDA benchmark: the decode body could not be captured as a CUDA graph; timed eagerly (host launch gaps included)");
        return time(body);
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

    /** The flash backward (for CCA/CCGQA on the latent shape: q̂, k̂ and the shifted values stand in as random). */
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

    /** One token over a random KV cache of seqLen, over L2-cold copies of q, k and v. */
    private double[] decodeCore() {
        int b = bs.batch(), len = bs.seqLen(), hq = shape.qHeads(), hkv = shape.kvHeads(), d = shape.headDim();
        AttentionShape cache = new AttentionShape(b, len, hq, hkv, d);
        DeviceMemoryPool pool = cuda.device().pool();
        List<DeviceBuffer> held = new ArrayList<>();
        try {
            DeviceBuffer o = alloc(held, (long) b * hq * d * 2);
            long before = pool.liveBytes();
            List<DeviceBuffer[]> qkv = new ArrayList<>();
            IntConsumer body = i -> {
                DeviceBuffer[] c = qkv.get(i % qkv.size());
                cuda.decode(o, c[0], c[1], c[2], b, len, len, hq, hkv, d);
            };
            qkv.add(randomQkv(held, cache, 0));
            body.accept(0);
            cuda.synchronize();
            long onePeak = pool.peakLiveBytes();
            for (int c = 1, copies = GraphTiming.coldCopies(pool.liveBytes() - before); c < copies; c++)
                qkv.add(randomQkv(held, cache, c));
            return timeDecode(onePeak, body);
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    private DeviceBuffer[] randomQkv(List<DeviceBuffer> held, AttentionShape cache, long copy) {
        return new DeviceBuffer[] {random(held, (long) cache.batch() * cache.qHeads() * cache.headDim(), 20 + 3 * copy, 1),
                random(held, cache.kvElements(), 21 + 3 * copy, 1), random(held, cache.kvElements(), 22 + 3 * copy, 1)};
    }

    /**
     * The layer's backward from saved activations (one forward first): MHA/GQA {@link GqaLayer}, CCA/CCGQA
     * {@link CudaCcaLayer}. Parameter gradients accumulate over the iterations (as over micro-batches).
     */
    private double[] backwardLayer() {
        int rows = bs.batch() * bs.seqLen(), e = shape.dModel();
        List<DeviceBuffer> held = new ArrayList<>();
        try {
            DeviceBuffer x = random(held, (long) rows * e, 10, 1), g = random(held, (long) rows * e, 30, 1);
            DeviceBuffer out = alloc(held, (long) rows * e * 2), dx = alloc(held, (long) rows * e * 2);
            if (shape.conv() == null) {
                try (GqaLayer layer = new GqaLayer(cuda, shape, GqaLayer.parameters(shape, spec.seed()), bs.batch(), bs.seqLen())) {
                    layer.forward(out, x);
                    return time(i -> layer.backward(dx, g));
                }
            }
            if (!bs.causal()) throw new InvalidConfigException("benchmark.causal", "CCA attention is causal");
            try (CudaCcaLayer layer = new CudaCcaLayer(cuda, ccgqa(), new CudaCcaLayerCheck(ccgqa(), spec.seed()).parameters(),
                    bs.batch(), bs.seqLen())) {
                layer.forward(out, x);
                return time(i -> layer.backward(dx, g));
            }
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    /**
     * One token through the whole layer after seqLen - 1 cached tokens (random cache rows), over L2-cold copies
     * of the layer (weights and cache: a batch-1 layer's weights, 8-34 MB at width 2048, fit the L2 as well).
     */
    private double[] decodeLayer() {
        int b = bs.batch(), e = shape.dModel();
        DeviceMemoryPool pool = cuda.device().pool();
        List<DeviceBuffer> held = new ArrayList<>();
        List<AutoCloseable> layers = new ArrayList<>();
        try {
            DeviceBuffer xt = random(held, (long) b * e, 40, 1), yt = alloc(held, (long) b * e * 2);
            long before = pool.liveBytes();
            List<Runnable> steps = new ArrayList<>();
            IntConsumer body = i -> steps.get(i % steps.size()).run();
            Map<String, double[]> params = shape.conv() == null ? GqaLayer.parameters(shape, spec.seed())
                    : new CudaCcaLayerCheck(ccgqa(), spec.seed()).parameters();
            steps.add(decodeLayerCopy(layers, held, params, xt, yt, 0));
            body.accept(0);
            cuda.synchronize();
            long onePeak = pool.peakLiveBytes();
            for (int c = 1, copies = GraphTiming.coldCopies(pool.liveBytes() - before); c < copies; c++)
                steps.add(decodeLayerCopy(layers, held, params, xt, yt, c));
            return timeDecode(onePeak, body);
        } finally {
            for (AutoCloseable l : layers.reversed())
                try {
                    l.close();
                } catch (Exception ex) {
                    LOG.warning(() -> "CUDA benchmark: closing a decode layer failed: " + ex);
                }
            held.forEach(DeviceBuffer::close);
        }
    }

    /** One copy of the decode layer with its own random cache; the step decodes one token (closeables to layers). */
    private Runnable decodeLayerCopy(List<AutoCloseable> layers, List<DeviceBuffer> held, Map<String, double[]> params,
            DeviceBuffer xt, DeviceBuffer yt, long copy) {
        int b = bs.batch(), len = bs.seqLen();
        AttentionShape cache = new AttentionShape(b, len, shape.qHeads(), shape.kvHeads(), shape.headDim());
        if (shape.conv() == null) {
            DeviceBuffer k = random(held, cache.kvElements(), 21 + 2 * copy, 1), v = random(held, cache.kvElements(), 22 + 2 * copy, 1);
            GqaLayer layer = new GqaLayer(cuda, shape, params, b, 1);
            layers.add(layer);
            return () -> layer.decode(yt, xt, k, v, len - 1, len);
        }
        CudaCcaLayer layer = new CudaCcaLayer(cuda, ccgqa(), params, b, 1);
        layers.add(layer);
        CudaCcaLayer.DecodeState st = layer.newDecodeState(len);
        layers.add(st);
        cuda.device().upload(st.keys(), CudaBenchCli.Random.bf16(cache.kvElements(), spec.seed() * 31 + 21 + 2 * copy));
        cuda.device().upload(st.values(), CudaBenchCli.Random.bf16(cache.kvElements(), spec.seed() * 31 + 22 + 2 * copy));
        return () -> {
            st.assumeCached(len - 1);
            layer.decode(yt, xt, st);
        };
    }

    /**
     * The MHA/GQA layer this benchmark times, without RoPE (as FORWARD/LAYER): q, k, v = x W^T (cuBLAS), causal
     * flash attention, o_proj; backward = o_proj GEMM grads, flash backward, the fp32 q/k/v gradients cast to bf16,
     * their GEMM grads (weight gradients fp32, added); decode = the new token's q, k, v (k, v written straight
     * into the cache row), split-KV decode, o_proj. Parameters under GqaAttention's names.
     */
    static final class GqaLayer implements AutoCloseable {
        private final CudaBackend cuda;
        private final Cublas blas;
        private final int e, hq, hkv, d, dq, dk, batch, tokens, rows;
        private final AttentionShape s;
        private final OwnedBuffers owned;
        private final DeviceBuffer wq, wk, wv, wo, gWq, gWk, gWv, gWo, q, k, v, o, lse;
        private DeviceBuffer x;

        GqaLayer(CudaBackend cuda, Shape shape, Map<String, double[]> p, int batch, int tokens) {
            this.cuda = cuda;
            this.owned = new OwnedBuffers(cuda);
            this.blas = cuda.cublas();
            this.e = shape.dModel();
            this.hq = shape.qHeads();
            this.hkv = shape.kvHeads();
            this.d = shape.headDim();
            this.dq = hq * d;
            this.dk = hkv * d;
            this.batch = batch;
            this.tokens = tokens;
            this.rows = batch * tokens;
            this.s = new AttentionShape(batch, tokens, hq, hkv, d);
            try {
                this.wq = owned.keep(cuda.uploadBf16(Bf16.fromDoubles(p.get("q_proj.weight"))));
                this.wk = owned.keep(cuda.uploadBf16(Bf16.fromDoubles(p.get("k_proj.weight"))));
                this.wv = owned.keep(cuda.uploadBf16(Bf16.fromDoubles(p.get("v_proj.weight"))));
                this.wo = owned.keep(cuda.uploadBf16(Bf16.fromDoubles(p.get("o_proj.weight"))));
                this.gWq = owned.zeroed((long) dq * e * 4);
                this.gWk = owned.zeroed((long) dk * e * 4);
                this.gWv = owned.zeroed((long) dk * e * 4);
                this.gWo = owned.zeroed((long) e * dq * 4);
                this.q = owned.keep(cuda.allocate(s.qElements() * 2));
                this.k = owned.keep(cuda.allocate(s.kvElements() * 2));
                this.v = owned.keep(cuda.allocate(s.kvElements() * 2));
                this.o = owned.keep(cuda.allocate(s.qElements() * 2));
                this.lse = owned.keep(cuda.allocate((long) batch * hq * tokens * 4));
            } catch (RuntimeException ex) {
                close();
                throw ex;
            }
        }

        /** The CPU layer's initial parameters for this shape without RoPE, rounded to bf16 (what the GPU holds). */
        static Map<String, double[]> parameters(Shape shape, long seed) {
            Map<String, double[]> p = new java.util.LinkedHashMap<>();
            for (var prm : reference(shape, seed).parameters()) {
                double[] w = prm.value().data();
                for (int i = 0; i < w.length; i++) w[i] = Bf16.toFloat(Bf16.fromFloat((float) w[i]));
                p.put(prm.name(), w);
            }
            return p;
        }

        private static org.ccalab.engine.attention.AttentionLayer reference(Shape shape, long seed) {
            return org.ccalab.engine.attention.AttentionLayers.create(new GqaConfig(shape.dModel(), shape.qHeads(), shape.kvHeads(),
                    new org.ccalab.common.variant.RopeSpec(0, 10_000.0)), new java.util.Random(seed));
        }

        void forward(DeviceBuffer out, DeviceBuffer x) {
            cuda.gemmNt(q, x, wq, rows, dq, e);
            cuda.gemmNt(k, x, wk, rows, dk, e);
            cuda.gemmNt(v, x, wv, rows, dk, e);
            cuda.flashForward(o, lse, q, k, v, s, true, hkv);
            cuda.gemmNt(out, o, wo, rows, e, dq);
            this.x = x;
        }

        void backward(DeviceBuffer dx, DeviceBuffer dOut) {
            CudaTrainingKernels tk = cuda.trainingKernels();
            try (DeviceBuffer dO = cuda.allocate((long) rows * dq * 2); DeviceBuffer dq32 = cuda.allocate(s.qElements() * 4);
                 DeviceBuffer dk32 = cuda.allocate(s.kvElements() * 4); DeviceBuffer dv32 = cuda.allocate(s.kvElements() * 4);
                 DeviceBuffer dqb = cuda.allocate(s.qElements() * 2); DeviceBuffer dkb = cuda.allocate(s.kvElements() * 2);
                 DeviceBuffer dvb = cuda.allocate(s.kvElements() * 2)) {
                blas.linearWeightGrad(gWo, dOut, o, rows, e, dq);
                blas.linearInputGrad(dO, dOut, wo, rows, dq, e, false);
                cuda.flashBackward(dq32, dk32, dv32, q, k, v, o, lse, dO, s, true);
                tk.castToBf16(dqb, dq32, s.qElements());
                tk.castToBf16(dkb, dk32, s.kvElements());
                tk.castToBf16(dvb, dv32, s.kvElements());
                blas.linearWeightGrad(gWq, dqb, x, rows, dq, e);
                blas.linearWeightGrad(gWk, dkb, x, rows, dk, e);
                blas.linearWeightGrad(gWv, dvb, x, rows, dk, e);
                blas.linearInputGrad(dx, dqb, wq, rows, e, dq, false);
                blas.linearInputGrad(dx, dkb, wk, rows, e, dk, true);
                blas.linearInputGrad(dx, dvb, wv, rows, e, dk, true);
            }
        }

        /** yt [B, E] for the token at {@code pos} from xt [B, E]; its k, v are written into cache row pos. */
        void decode(DeviceBuffer yt, DeviceBuffer xt, DeviceBuffer kCache, DeviceBuffer vCache, int pos, int capacity) {
            try (DeviceBuffer qt = cuda.allocate((long) batch * dq * 2); DeviceBuffer ot = cuda.allocate((long) batch * dq * 2)) {
                cuda.gemmNt(qt, xt, wq, batch, dq, e);
                long row = (long) pos * dk * 2;
                blas.gemmEx(1, 0, dk, batch, e, wk.address(), e, xt.address(), e, kCache.address() + row, false, capacity * dk, false);
                blas.gemmEx(1, 0, dk, batch, e, wv.address(), e, xt.address(), e, vCache.address() + row, false, capacity * dk, false);
                cuda.decode(ot, qt, kCache, vCache, batch, pos + 1, capacity, hq, hkv, d);
                cuda.gemmNt(yt, ot, wo, batch, e, dq);
            }
        }

        Map<String, double[]> gradients() {
            Map<String, double[]> g = new java.util.LinkedHashMap<>();
            g.put("q_proj.weight", cuda.downloadDoubles(gWq, dq * e));
            g.put("k_proj.weight", cuda.downloadDoubles(gWk, dk * e));
            g.put("v_proj.weight", cuda.downloadDoubles(gWv, dk * e));
            g.put("o_proj.weight", cuda.downloadDoubles(gWo, e * dq));
            return g;
        }

        /**
         * This layer against the float64 CPU GqaAttention of the same shape without RoPE, same bf16 parameters and
         * inputs. FORWARD: "out"; BACKWARD: "out", "dx" and each weight gradient; DECODE: "out" = the last of
         * {@code tokens} tokens decoded over a cache the GPU filled with the projections of the first tokens - 1.
         */
        static Map<String, CudaBenchCli.Err> check(CudaBackend cuda, Shape shape, Phase phase, int batch, int tokens, long seed) {
            int e = shape.dModel(), rows = batch * tokens;
            var ref = reference(shape, seed);
            Map<String, double[]> p = parameters(shape, seed);
            for (var prm : ref.parameters()) System.arraycopy(p.get(prm.name()), 0, prm.value().data(), 0, prm.value().data().length);
            short[] x = CudaBenchCli.Random.bf16((long) rows * e, seed + 5), g = CudaBenchCli.Random.bf16((long) rows * e, seed + 6);
            var pass = ref.forward(org.ccalab.engine.tensor.Tensor.wrap(Bf16.toDoubles(x), batch, tokens, e));
            Map<String, CudaBenchCli.Err> err = new java.util.LinkedHashMap<>();
            if (phase == Phase.DECODE) {
                double[] want = new double[batch * e];
                for (int b = 0; b < batch; b++)
                    System.arraycopy(pass.output().data(), (b * tokens + tokens - 1) * e, want, b * e, e);
                short[] xt = new short[batch * e];
                for (int b = 0; b < batch; b++) System.arraycopy(x, (b * tokens + tokens - 1) * e, xt, b * e, e);
                try (GqaLayer layer = new GqaLayer(cuda, shape, p, batch, tokens);
                     DeviceBuffer dx = cuda.uploadBf16(x); DeviceBuffer out = cuda.allocate((long) rows * e * 2);
                     DeviceBuffer dxt = cuda.uploadBf16(xt); DeviceBuffer yt = cuda.allocate((long) batch * e * 2)) {
                    layer.forward(out, dx);  // its k, v [B, T, Hkv, D] are the cache (capacity T); row T-1 is rewritten
                    cuda.poison(yt);
                    layer.decode(yt, dxt, layer.k, layer.v, tokens - 1, tokens);
                    err.put("out", CudaBenchCli.Err.of(Bf16.toDoubles(cuda.downloadBf16(yt, batch * e)), want));
                }
                return err;
            }
            for (var prm : ref.parameters()) prm.zeroGrad();
            double[] wantDx = phase == Phase.BACKWARD
                    ? ref.backward(pass, org.ccalab.engine.tensor.Tensor.wrap(Bf16.toDoubles(g), batch, tokens, e)).data() : null;
            try (GqaLayer layer = new GqaLayer(cuda, shape, p, batch, tokens);
                 DeviceBuffer dx = cuda.uploadBf16(x); DeviceBuffer dg = cuda.uploadBf16(g);
                 DeviceBuffer out = cuda.allocate((long) rows * e * 2); DeviceBuffer ddx = cuda.allocate((long) rows * e * 2)) {
                cuda.poison(out);
                layer.forward(out, dx);
                err.put("out", CudaBenchCli.Err.of(Bf16.toDoubles(cuda.downloadBf16(out, rows * e)), pass.output().data()));
                if (phase == Phase.BACKWARD) {
                    cuda.poison(ddx);
                    layer.backward(ddx, dg);
                    err.put("dx", CudaBenchCli.Err.of(Bf16.toDoubles(cuda.downloadBf16(ddx, rows * e)), wantDx));
                    Map<String, double[]> got = layer.gradients();
                    for (var prm : ref.parameters()) err.put(prm.name(), CudaBenchCli.Err.of(got.get(prm.name()), prm.grad().data()));
                }
            }
            return err;
        }

        @Override
        public void close() {
            owned.close();
        }
    }
}
