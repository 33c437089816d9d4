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
 * The OVQ cells of a CUDA BENCHMARK run ({@link CudaBenchmarkRun} times them). FORWARD/CORE = {@link CudaOvq#run}
 * of seqLen tokens from empty dictionaries on random unit q, k and Gaussian v; FORWARD/LAYER = {@link
 * CudaOvqLayer#forward} likewise; DECODE/CORE and DECODE/LAYER = one more token through states that a prefill of
 * seqLen tokens built (each call appends its token, so every chunk length's fold is in the average, as in
 * generation). No BACKWARD cells: there is no OVQ backward kernel. FLOPs and state bytes are the cost model's (its
 * OVQ terms, ovq.md section 7): decode bytes are the state the step reads (n rows of fp32 centroid, value, count and
 * the open chunk), OVQ's counterpart of a KV cache. Errors: against the float64 reference ({@link CudaOvqCheck}) at
 * a small shape of the same variant.
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

    static boolean covers(Phase phase) {
        return phase != Phase.BACKWARD;
    }

    double[] measure(Phase phase, Scope scope, CudaMlaBenchmark.Timing timing) {
        if (!covers(phase)) throw new IllegalArgumentException("no OVQ backward kernel");
        return phase == Phase.FORWARD ? forward(timing, scope == Scope.LAYER) : decode(timing, scope == Scope.LAYER);
    }

    BenchmarkCell cell(Phase phase, Scope scope, double[] ms, long peakBytes) {
        int b = bs.batch(), s = bs.seqLen();
        double flops = b * flops(phase, scope, cost, cfg, s);
        double bytes = b * bytes(phase, scope, cost, cfg, s);
        double sec = ms[1] / 1e3;
        CudaBenchCli.Err err = referenceError(phase, scope);
        return new BenchmarkCell(phase, scope, bs.causal(), b, s, "bf16", "cuda", ms[0], ms[1], ms[2], flops / sec / 1e12,
                bytes / sec, peakBytes, CostModel.kvCacheBytesPerToken(cfg, 2), err.maxAbs(), err.rel());
    }

    /** The cost model's FLOPs of one sequence: prefill (core: reads and folds; layer: + projections), or one decode step. */
    static double flops(Phase phase, Scope scope, CostEstimate cost, OvqConfig cfg, int seqLen) {
        return switch (phase) {
            case FORWARD -> scope == Scope.CORE ? cost.prefillAttentionFlops() : cost.prefillFlopsCausal();
            case DECODE -> scope == Scope.CORE ? CostModel.decodeFlops(cfg, seqLen) - 2.0 * CostModel.linearWeights(cfg)
                    : CostModel.decodeFlops(cfg, seqLen);
            case BACKWARD -> throw new IllegalArgumentException("no OVQ backward kernel");
        };
    }

    /**
     * Bytes one sequence moves at least: prefill core q, k, v in and o out (bf16); the layer adds x and y at width E
     * and the bf16 weights; decode reads the state (the cost model's bytes after seqLen tokens) and, in the layer,
     * the weights.
     */
    static double bytes(Phase phase, Scope scope, CostEstimate cost, OvqConfig cfg, int seqLen) {
        double act = 2.0 * 4 * seqLen * cfg.nHeads() * cfg.headDim();
        return switch (phase) {
            case FORWARD -> act + (scope == Scope.CORE ? 0 : 2.0 * (2.0 * seqLen * cfg.dModel() + CostModel.linearWeights(cfg)));
            case DECODE -> cost.decodeCacheBytesRead() + (scope == Scope.CORE ? 0 : 2.0 * CostModel.linearWeights(cfg));
            case BACKWARD -> throw new IllegalArgumentException("no OVQ backward kernel");
        };
    }

    /** The float64 check at batch 1 and up to 256 tokens (decode: up to 64 single-token steps after a prefill). */
    private CudaBenchCli.Err referenceError(Phase phase, Scope scope) {
        int t = Math.min(bs.seqLen(), 256), from = phase == Phase.DECODE ? Math.max(0, t - 64) : t;
        if (scope == Scope.LAYER) return CudaOvqCheck.layer(cuda, cfg, 1, t, from, seed + 3);
        List<Integer> pieces = from < t ? CudaOvqCheck.decodePieces(from, t) : List.of(t);
        return CudaOvqCheck.core(cuda, cfg.ovq(), cfg.headDim(), 1, cfg.nHeads(), t, pieces, seed + 3).err();
    }

    private double[] forward(CudaMlaBenchmark.Timing timing, boolean layerScope) {
        int b = bs.batch(), t = bs.seqLen(), h = cfg.nHeads(), d = cfg.headDim();
        List<AutoCloseable> held = new ArrayList<>();
        try {
            if (layerScope) {
                CudaOvqLayer layer = keep(held, randomLayer());
                CudaOvq.State st = keep(held, layer.newState(b));
                DeviceBuffer x = random(held, (long) b * t * cfg.dModel(), 10);
                DeviceBuffer y = scratch(held, (long) b * t * cfg.dModel() * 2);
                return timing.time(i -> {
                    st.reset();
                    layer.forward(y, x, st, t);
                });
            }
            CudaOvq core = keep(held, new CudaOvq(cuda, cfg.ovq(), d));
            CudaOvq.State st = keep(held, core.newState(b, h));
            DeviceBuffer[] qkv = unitQkv(held, core, (long) b * t, 1);
            DeviceBuffer beta = keep(held, cuda.uploadFloats(betas()));
            DeviceBuffer o = scratch(held, (long) b * t * h * d * 2);
            return timing.time(i -> {
                st.reset();
                core.run(st, o, qkv[0], qkv[1], qkv[2], beta, t);
            });
        } finally {
            close(held);
        }
    }

    /** One token after seqLen, rotating over L2-cold copies of the state (each prefilled with the same tokens). */
    private double[] decode(CudaMlaBenchmark.Timing timing, boolean layerScope) {
        int b = bs.batch(), t = bs.seqLen(), h = cfg.nHeads(), d = cfg.headDim();
        DeviceMemoryPool pool = cuda.device().pool();
        List<AutoCloseable> held = new ArrayList<>();
        try {
            CudaOvqLayer layer = layerScope ? keep(held, randomLayer()) : null;
            CudaOvq core = layerScope ? layer.core() : keep(held, new CudaOvq(cuda, cfg.ovq(), d));
            DeviceBuffer beta = keep(held, cuda.uploadFloats(betas()));
            DeviceBuffer[] prompt = unitQkv(held, core, (long) b * t, 1);
            DeviceBuffer[] next = unitQkv(held, core, b, 2);
            DeviceBuffer x = random(held, (long) b * cfg.dModel(), 12);
            DeviceBuffer y = scratch(held, (long) b * cfg.dModel() * 2), o = scratch(held, (long) b * h * d * 2);
            List<CudaOvq.State> states = new ArrayList<>();
            IntConsumer body = i -> {
                CudaOvq.State st = states.get(i % states.size());
                if (layer != null) layer.forward(y, x, st, 1);
                else core.run(st, o, next[0], next[1], next[2], beta, 1);
            };
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

    /** q, k (normalised on the device) and v [rows, H, D]. */
    private DeviceBuffer[] unitQkv(List<AutoCloseable> held, CudaOvq core, long tokens, long salt) {
        long n = tokens * cfg.nHeads() * cfg.headDim();
        DeviceBuffer q = random(held, n, 20 + 3 * salt), k = random(held, n, 21 + 3 * salt), v = random(held, n, 22 + 3 * salt);
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
