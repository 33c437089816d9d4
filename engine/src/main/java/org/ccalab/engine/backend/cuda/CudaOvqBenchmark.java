package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.Scope;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.cost.CostEstimate;
import org.ccalab.common.variant.cost.CostModel;

/**
 * The OVQ cells of a CUDA BENCHMARK run ({@link CudaBenchmarkRun} times them). FORWARD = {@link CudaOvqLayer#forward}
 * of seqLen tokens from empty dictionaries; DECODE = one more token through states that a prefill of seqLen tokens
 * built (each call appends its token, so every 64th step's fold is in the average, as in generation). CORE cells
 * time the layer too, as the CPU engine's do (docs/contracts.md: OVQ has no core apart from its projections, and the
 * dashboard reads its CORE cells as layers; their backend note says {@code core=layer}); the core kernel alone is
 * timed by CudaBenchCli's {@code ovq} phase. BACKWARD = {@link CudaOvqLayer#backward} of one training
 * forward of seqLen tokens, repeated (as the CPU engine times a layer's backward). FLOPs and state bytes are the cost model's (its OVQ terms, ovq.md section 7): decode bytes are the state the step reads (n rows of
 * fp32 centroid, value and count, and the open chunk), OVQ's counterpart of a KV cache, plus the weights. Errors:
 * against the float64 reference ({@link CudaOvqCheck#layer}) at a small shape of the same variant.
 */
final class CudaOvqBenchmark {
    private final CudaBackend cuda;
    private final OvqConfig cfg;
    private final BenchmarkSpec bs;
    private final long seed;
    private final CostEstimate cost;

    CudaOvqBenchmark(CudaBackend cuda, OvqConfig cfg, BenchmarkSpec bs, long seed) {
        String why = CudaOvq.unsupported(cfg.ovq(), cfg.headDim());
        if (why != null) throw new InvalidConfigException(why.substring(0, why.indexOf(':')), why);
        if (cuda.imageArch() < CudaOvq.MIN_ARCH)
            throw new InvalidConfigException("variant.family", "the CUDA OVQ kernels need compute capability 9.0 (thread-block"
                    + " clusters); this GPU runs the " + cuda.imageArch() + " image: benchmark OVQ with engine.backend=cpu");
        this.cuda = cuda;
        this.cfg = cfg;
        this.bs = bs;
        this.seed = seed;
        this.cost = CostModel.estimate(cfg, bs.seqLen(), 2);
    }

    /** {p10, p50, p90} ms of the cell: the layer at either scope. */
    double[] measure(Phase phase, Scope scope, CudaMlaBenchmark.Timing timing) {
        return switch (phase) {
            case FORWARD -> forward(timing);
            case BACKWARD -> backward(timing);
            case DECODE -> decode(timing);
        };
    }

    BenchmarkCell cell(Phase phase, Scope scope, double[] ms, long peakBytes) {
        int b = bs.batch(), s = bs.seqLen();
        double flops = b * flops(phase, cost, cfg, s);
        double bytes = b * bytes(phase, cost, cfg, s);
        double sec = ms[1] / 1e3;
        CudaBenchCli.Err err = referenceError(phase);
        return new BenchmarkCell(phase, scope, bs.causal(), b, s, "bf16", scope == Scope.CORE ? "cuda core=layer" : "cuda",
                ms[0], ms[1], ms[2], flops / sec / 1e12, bytes / sec, peakBytes, CostModel.kvCacheBytesPerToken(cfg, 2),
                err.maxAbs(), err.rel());
    }

    /** The cost model's FLOPs of one sequence through the layer: the causal prefill, or one decode step. */
    static double flops(Phase phase, CostEstimate cost, OvqConfig cfg, int seqLen) {
        return switch (phase) {
            case FORWARD -> cost.prefillFlopsCausal();
            case DECODE -> CostModel.decodeFlops(cfg, seqLen);
            case BACKWARD -> 2.0 * cost.prefillFlopsCausal(); // as the CPU engine counts it (BenchmarkRun.flops)
        };
    }

    /**
     * Bytes one sequence moves through the layer at least: prefill reads x and the bf16 weights, writes y at width E
     * and q, k, v, o of every head once; decode reads the state (the cost model's bytes after seqLen tokens) and the
     * weights.
     */
    static double bytes(Phase phase, CostEstimate cost, OvqConfig cfg, int seqLen) {
        return switch (phase) {
            case FORWARD -> 2.0 * 4 * seqLen * cfg.nHeads() * cfg.headDim()
                    + 2.0 * (2.0 * seqLen * cfg.dModel() + CostModel.linearWeights(cfg));
            case DECODE -> cost.decodeCacheBytesRead() + 2.0 * CostModel.linearWeights(cfg);
            // reads x, dy and q, k, v, dO; writes dx and the fp32 dq, dk, dv; reads the bf16 weights and adds to
            // their fp32 gradients (read + write)
            case BACKWARD -> 2.0 * 3 * seqLen * cfg.dModel() + (2.0 * 4 + 4.0 * 3) * seqLen * cfg.nHeads() * cfg.headDim()
                    + (2.0 + 8.0) * CostModel.linearWeights(cfg);
        };
    }

    /**
     * The layer's float64 check at batch 1 and up to 256 tokens (decode: up to 64 single-token steps after a prefill;
     * backward: the worst of dx, the weights' and beta's gradients).
     */
    private CudaBenchCli.Err referenceError(Phase phase) {
        int t = Math.min(bs.seqLen(), 256), from = phase == Phase.DECODE ? Math.max(0, t - 64) : t;
        if (phase == Phase.BACKWARD) return CudaOvqCheck.layerBackward(cuda, cfg, 1, t, seed + 3).worst();
        return CudaOvqCheck.layer(cuda, cfg, 1, t, from, seed + 3);
    }

    /** The layer's backward of one training forward (kept: the backward rewinds a copy of its state), repeated. */
    private double[] backward(CudaMlaBenchmark.Timing timing) {
        int b = bs.batch(), t = bs.seqLen(), e = cfg.dModel();
        long w = (long) cfg.nHeads() * cfg.headDim() * e * 4;
        List<AutoCloseable> held = new ArrayList<>();
        try {
            CudaOvqLayer layer = keep(held, randomLayer());
            CudaOvqLayer.Training tr = keep(held, layer.newTraining(b, t));
            DeviceBuffer x = random(held, (long) b * t * e, 10), dy = random(held, (long) b * t * e, 11);
            DeviceBuffer y = scratch(held, (long) b * t * e * 2), dx = scratch(held, (long) b * t * e * 2);
            CudaOvqLayer.Gradients g = new CudaOvqLayer.Gradients(scratch(held, w), scratch(held, w), scratch(held, w),
                    scratch(held, w));
            for (DeviceBuffer d : List.of(g.wq(), g.wk(), g.wv(), g.wo())) cuda.zero(d);
            layer.forwardForTraining(y, x, tr);
            return timing.time(i -> layer.backward(dx, dy, tr, g));
        } finally {
            close(held);
        }
    }

    private double[] forward(CudaMlaBenchmark.Timing timing) {
        int b = bs.batch(), t = bs.seqLen();
        List<AutoCloseable> held = new ArrayList<>();
        try {
            CudaOvqLayer layer = keep(held, randomLayer());
            CudaOvq.State st = keep(held, layer.newState(b));
            DeviceBuffer x = random(held, (long) b * t * cfg.dModel(), 10);
            DeviceBuffer y = scratch(held, (long) b * t * cfg.dModel() * 2);
            return timing.time(i -> {
                st.reset();
                layer.forward(y, x, st, t);
            });
        } finally {
            close(held);
        }
    }

    /** One token after seqLen through the layer, rotating over L2-cold copies of the state (each prefilled alike). */
    private double[] decode(CudaMlaBenchmark.Timing timing) {
        int b = bs.batch(), t = bs.seqLen(), h = cfg.nHeads(), d = cfg.headDim();
        DeviceMemoryPool pool = cuda.device().pool();
        List<AutoCloseable> held = new ArrayList<>();
        try {
            CudaOvqLayer layer = keep(held, randomLayer());
            CudaOvq core = layer.core();
            DeviceBuffer beta = keep(held, cuda.uploadFloats(betas()));
            DeviceBuffer[] prompt = unitQkv(held, core, (long) b * t);
            DeviceBuffer x = random(held, (long) b * cfg.dModel(), 12);
            DeviceBuffer y = scratch(held, (long) b * cfg.dModel() * 2);
            List<CudaOvq.State> states = new ArrayList<>();
            IntConsumer body = i -> layer.forward(y, x, states.get(i % states.size()), 1);
            try (DeviceBuffer promptOut = cuda.allocate((long) b * t * h * d * 2)) {
                long before = pool.liveBytes();
                states.add(keep(held, core.newState(b, h)));
                core.run(states.getFirst(), promptOut, prompt[0], prompt[1], prompt[2], beta, t);
                body.accept(0);
                cuda.synchronize();
                long onePeak = pool.peakLiveBytes();
                for (int c = 1, count = GraphTiming.coldCopies(Math.max(1, pool.liveBytes() - before)); c < count; c++) {
                    CudaOvq.State st = keep(held, core.newState(b, h));
                    core.run(st, promptOut, prompt[0], prompt[1], prompt[2], beta, t);
                    states.add(st);
                }
                cuda.synchronize();
                return timing.timeDecode(onePeak, body);
            }
        } finally {
            close(held);
        }
    }

    private float[] betas() {
        float[] beta = new float[cfg.nHeads()];
        java.util.Arrays.fill(beta, (float) Math.sqrt(cfg.headDim()));
        return beta;
    }

    /** A prompt's q, k (normalised on the device) and v [rows, H, D]. */
    private DeviceBuffer[] unitQkv(List<AutoCloseable> held, CudaOvq core, long tokens) {
        long n = tokens * cfg.nHeads() * cfg.headDim();
        DeviceBuffer q = random(held, n, 23), k = random(held, n, 24), v = random(held, n, 25);
        core.l2normalize(q, tokens * cfg.nHeads());
        core.l2normalize(k, tokens * cfg.nHeads());
        return new DeviceBuffer[] {q, k, v};
    }

    private CudaOvqLayer randomLayer() {
        int e = cfg.dModel(), inner = cfg.nHeads() * cfg.headDim();
        short[][] w = new short[4][];
        for (int i = 0; i < 4; i++) {
            double[] d = CudaBenchCli.Random.doubles((long) inner * e, seed * 31 + 40 + i);
            for (int j = 0; j < d.length; j++) d[j] *= 0.02;
            w[i] = Bf16.fromDoubles(d);
        }
        return new CudaOvqLayer(cuda, cfg, w[0], w[1], w[2], w[3], betas());
    }

    private DeviceBuffer random(List<AutoCloseable> held, long n, long salt) {
        List<DeviceBuffer> mine = new ArrayList<>();
        DeviceBuffer b = CudaBenchmarkRun.randomBf16(cuda, mine, n, seed * 31 + salt, 1);
        held.add(b);
        return b;
    }

    private DeviceBuffer scratch(List<AutoCloseable> held, long bytes) {
        return keep(held, cuda.allocate(bytes));
    }

    private static <T extends AutoCloseable> T keep(List<AutoCloseable> held, T c) {
        held.add(c);
        return c;
    }

    private static void close(List<AutoCloseable> held) {
        for (AutoCloseable c : held.reversed()) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing a benchmark buffer", e);
            }
        }
    }
}
