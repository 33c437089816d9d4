package org.ccalab.engine.backend.cuda;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntConsumer;
import java.util.function.IntFunction;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.Scope;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.common.variant.cost.CostEstimate;

/**
 * The MLA cells of a CUDA BENCHMARK run ({@link CudaBenchmarkRun} times them). FORWARD/CORE = the prefill core
 * (mla_fwd) on random q, k, v; FORWARD/LAYER = {@link CudaMlaLayer#prefill}; DECODE/CORE = absorbed decode +
 * combine over a random latent cache of seqLen rows; DECODE/LAYER = {@link CudaMlaLayer#decode} of one token
 * after seqLen cached ones. BACKWARD/CORE = {@link CudaMla#backward} (dq, dk, dv of the prefill core from a random
 * dO and the forward's o and lse); BACKWARD/LAYER = {@link CudaMlaLayer#backward} (dx and every weight gradient)
 * after one training forward. FLOPs and KV bytes per token are the cost model's (mla.md section 5): causal S(S+1)
 * attention term, 2W per token through the projections, absorbed decode per cached token; the layer backward 2x the
 * projections' (input and weight gradients) + 2.5x the core's. The LAYER cells carry the error against the float64
 * CPU layer at a small shape ({@link #referenceError}).
 */
final class CudaMlaBenchmark {
    /** Times a body called with the iteration index; returns {p10, p50, p90} ms. */
    interface Timing {
        double[] time(IntConsumer body);

        /** A decode body rotating over L2-cold copies by call index; {@code onePeak}: the pool's peak with one copy. */
        double[] timeDecode(long onePeak, IntConsumer body);
    }

    private final CudaBackend cuda;
    private final MlaConfig cfg;
    private final BenchmarkSpec bs;
    private final long seed;
    private final CostEstimate cost;

    CudaMlaBenchmark(CudaBackend cuda, MlaConfig cfg, BenchmarkSpec bs, long seed) {
        String why = CudaMlaKernels.unsupported(cfg);
        if (why != null) throw new InvalidConfigException("variant", why);
        this.cuda = cuda;
        this.cfg = cfg;
        this.bs = bs;
        this.seed = seed;
        this.cost = CostModel.estimate(cfg, bs.seqLen(), 2);
    }

    double[] measure(Phase phase, Scope scope, Timing timing) {
        return switch (phase) {
            case FORWARD -> scope == Scope.CORE ? forwardCore(timing) : layer(timing, false);
            case DECODE -> scope == Scope.CORE ? decodeCore(timing) : decodeLayer(timing);
            case BACKWARD -> scope == Scope.CORE ? backwardCore(timing) : layer(timing, true);
        };
    }

    BenchmarkCell cell(Phase phase, Scope scope, double[] ms, long peakBytes) {
        int b = bs.batch(), s = bs.seqLen();
        long kvPerToken = CostModel.kvCacheBytesPerToken(cfg, 2);
        double flops = b * flops(phase, scope, cost, cfg, s, bs.causal());
        double bytes = b * bytes(phase, scope, cfg, s, kvPerToken);
        double sec = ms[1] / 1e3;
        CudaBenchCli.Err err = referenceError(phase, scope);
        return new BenchmarkCell(phase, scope, bs.causal(), b, s, "bf16", "cuda", ms[0], ms[1], ms[2], flops / sec / 1e12,
                bytes / sec, peakBytes, kvPerToken, err == null ? Double.NaN : err.maxAbs(), err == null ? Double.NaN : err.rel());
    }

    /**
     * The LAYER cells' error against the float64 CPU layer ({@link CudaMlaLayerCheck}) at batch 1 and up to 256 tokens
     * (the timed shape would take the CPU minutes): forward, the prefill output; backward, the worst of dx and every
     * parameter gradient; decode, up to 32 decoded rows after a prefill of as many. Null (NaN in the cell) for the cores, which the gpu
     * tests and CudaBenchCli's checks cover.
     */
    private CudaBenchCli.Err referenceError(Phase phase, Scope scope) {
        if (scope != Scope.LAYER) return null;
        int t = Math.min(bs.seqLen(), 256);
        CudaMlaLayerCheck check = new CudaMlaLayerCheck(cuda, cfg);
        return switch (phase) {
            case FORWARD -> check.prefill(1, t, seed + 3);
            case DECODE -> check.decode(1, Math.min(bs.seqLen(), 64), Math.min(bs.seqLen(), 64) / 2, seed + 3).vsCpu();
            case BACKWARD -> check.run(1, t, seed + 3).entrySet().stream().filter(x -> !x.getKey().equals("out"))
                    .map(x -> x.getValue().err()).max(java.util.Comparator.comparingDouble(CudaBenchCli.Err::rel)).orElseThrow();
        };
    }

    /** FLOPs of one sequence (the cost model's; causal prefill counts S(S+1)/2 query-key pairs). */
    static double flops(Phase phase, Scope scope, CostEstimate cost, MlaConfig cfg, int seqLen, boolean causal) {
        return switch (phase) {
            case FORWARD -> scope == Scope.CORE
                    ? (causal ? cost.prefillAttentionFlops() / (2.0 * seqLen) * (seqLen + 1) : cost.prefillAttentionFlops())
                    : (causal ? cost.prefillFlopsCausal() : cost.prefillFlops());
            case DECODE -> scope == Scope.CORE ? CostModel.decodeFlops(cfg, seqLen) - CostModel.decodeFlops(cfg, 0)
                    : CostModel.decodeFlops(cfg, seqLen);
            // the core: 2.5x its forward (FlashAttention's convention); the layer adds 2x the projections' forward FLOPs
            case BACKWARD -> 2.5 * flops(Phase.FORWARD, Scope.CORE, cost, cfg, seqLen, causal)
                    + (scope == Scope.CORE ? 0 : 2.0 * (cost.prefillFlops() - cost.prefillAttentionFlops()));
        };
    }

    /**
     * Bytes one sequence moves at least: decode reads the latent cache (seqLen rows of the cost model's bytes);
     * the prefill core reads q, k, v and writes o once; the prefill layer reads x and the weights, writes y; the core
     * backward reads q, k, v, o, dO (bf16) and writes dq, dk, dv (fp32); the layer backward adds dy and dx at width E,
     * the bf16 weights read once and the fp32 weight gradients read and written.
     */
    static double bytes(Phase phase, Scope scope, MlaConfig cfg, int seqLen, long kvPerToken) {
        int n = cfg.nHeads();
        return switch (phase) {
            case DECODE -> (double) seqLen * kvPerToken;
            case FORWARD -> scope == Scope.CORE
                    ? 2.0 * seqLen * n * (2.0 * cfg.qkHeadDim() + 2.0 * cfg.vHeadDim())
                    : 2.0 * (2.0 * seqLen * cfg.dModel() + CostModel.linearWeights(cfg));
            case BACKWARD -> (double) seqLen * n * (2.0 * (2 * cfg.qkHeadDim() + 3 * cfg.vHeadDim())
                    + 4.0 * (2 * cfg.qkHeadDim() + cfg.vHeadDim()))
                    + (scope == Scope.CORE ? 0 : 2.0 * 2 * seqLen * cfg.dModel() + 10.0 * CostModel.linearWeights(cfg));
        };
    }

    private double[] forwardCore(Timing timing) {
        int b = bs.batch(), t = bs.seqLen(), n = cfg.nHeads();
        long rows = (long) b * t * n;
        List<DeviceBuffer> held = new ArrayList<>();
        try {
            CudaMla mla = new CudaMla(cuda);
            DeviceBuffer q = random(held, rows * cfg.qkHeadDim(), 1, 1), k = random(held, rows * cfg.qkHeadDim(), 2, 1);
            DeviceBuffer v = random(held, rows * cfg.vHeadDim(), 3, 1);
            DeviceBuffer o = alloc(held, rows * cfg.vHeadDim() * 2), lse = alloc(held, rows * 4);
            double scale = 1 / Math.sqrt(cfg.qkHeadDim());
            return timing.time(i -> mla.forward(o, lse, q, k, v, b, t, n, cfg.qkHeadDim(), cfg.vHeadDim(), bs.causal(), scale));
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    private double[] backwardCore(Timing timing) {
        int b = bs.batch(), t = bs.seqLen(), n = cfg.nHeads(), dqk = cfg.qkHeadDim(), dv = cfg.vHeadDim();
        long rows = (long) b * t * n;
        List<DeviceBuffer> held = new ArrayList<>();
        try {
            CudaMla mla = new CudaMla(cuda);
            DeviceBuffer q = random(held, rows * dqk, 1, 1), k = random(held, rows * dqk, 2, 1);
            DeviceBuffer v = random(held, rows * dv, 3, 1), dO = random(held, rows * dv, 4, 1);
            DeviceBuffer o = alloc(held, rows * dv * 2), lse = alloc(held, rows * 4);
            DeviceBuffer dq = alloc(held, rows * dqk * 4), dk = alloc(held, rows * dqk * 4), dvv = alloc(held, rows * dv * 4);
            double scale = 1 / Math.sqrt(dqk);
            mla.forward(o, lse, q, k, v, b, t, n, dqk, dv, bs.causal(), scale);
            return timing.time(i -> mla.backward(dq, dk, dvv, q, k, v, o, lse, dO, b, t, n, dqk, dv, bs.causal(), scale));
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    /**
     * The layer's causal prefill on random x, or (backward) its backward after one training forward, dy random
     * (gradients accumulate across iterations).
     */
    private double[] layer(Timing timing, boolean backward) {
        if (!bs.causal()) throw new InvalidConfigException("benchmark.causal", "the MLA layer's prefill is causal");
        int b = bs.batch(), t = bs.seqLen(), e = cfg.dModel();
        List<DeviceBuffer> held = new ArrayList<>();
        try (CudaMlaLayer layer = new CudaMlaLayer(cuda, cfg, randomParameters(cfg, seed), b, t)) {
            DeviceBuffer x = random(held, (long) b * t * e, 10, 1), y = alloc(held, (long) b * t * e * 2);
            if (!backward) return timing.time(i -> layer.prefill(y, x, t));
            DeviceBuffer dy = random(held, (long) b * t * e, 11, 1), dx = alloc(held, (long) b * t * e * 2);
            layer.forward(y, x, t);
            return timing.time(i -> layer.backward(dx, dy));
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    private double[] decodeCore(Timing timing) {
        int b = bs.batch(), len = bs.seqLen(), n = cfg.nHeads(), r = cfg.kvLoraRank(), dr = cfg.qkRopeHeadDim();
        DeviceMemoryPool pool = cuda.device().pool();
        List<DeviceBuffer> held = new ArrayList<>();
        try {
            CudaMla mla = new CudaMla(cuda);
            DeviceBuffer oLat = alloc(held, (long) b * n * r * 4);
            double scale = 1 / Math.sqrt(cfg.qkHeadDim());
            long before = pool.liveBytes();
            // latents after the norm and rotated keys are unit scale; the absorbed query likewise
            List<DeviceBuffer[]> copies = new ArrayList<>();
            IntConsumer body = i -> {
                DeviceBuffer[] c = copies.get(i % copies.size());
                mla.decode(oLat, c[1], c[0], b, len, len, n, r, dr, scale);
            };
            IntFunction<DeviceBuffer[]> copy = c -> new DeviceBuffer[] {random(held, (long) b * len * (r + dr), 20 + 2L * c, 1),
                    random(held, (long) b * n * (r + dr), 21 + 2L * c, 1)};
            copies.add(copy.apply(0));
            body.accept(0);
            cuda.synchronize();
            long onePeak = pool.peakLiveBytes();
            for (int c = 1, count = GraphTiming.coldCopies(pool.liveBytes() - before); c < count; c++) copies.add(copy.apply(c));
            return timing.timeDecode(onePeak, body);
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    private double[] decodeLayer(Timing timing) {
        int b = bs.batch(), len = bs.seqLen(), e = cfg.dModel(), w = cfg.kvLoraRank() + cfg.qkRopeHeadDim();
        DeviceMemoryPool pool = cuda.device().pool();
        List<DeviceBuffer> held = new ArrayList<>();
        List<CudaMlaLayer> layers = new ArrayList<>();
        try {
            DeviceBuffer x = random(held, (long) b * e, 23, 1), y = alloc(held, (long) b * e * 2);
            Map<String, double[]> params = randomParameters(cfg, seed);
            long before = pool.liveBytes();
            IntConsumer body = i -> {
                CudaMlaLayer layer = layers.get(i % layers.size());
                layer.assumeCached(len);
                layer.decode(y, x);
            };
            IntFunction<CudaMlaLayer> copy = c -> {
                CudaMlaLayer layer = new CudaMlaLayer(cuda, cfg, params, b, len + 1);
                layers.add(layer);
                // seqLen cached tokens of random unit-scale latents, then one new token each call at position seqLen
                short[] rows = Bf16.fromDoubles(CudaBenchCli.Random.doubles((long) b * (len + 1) * w, seed * 31 + 22 + c));
                cuda.device().upload(layer.cache(), rows);
                return layer;
            };
            copy.apply(0);
            body.accept(0);
            cuda.synchronize();
            long onePeak = pool.peakLiveBytes();
            for (int c = 1, count = GraphTiming.coldCopies(pool.liveBytes() - before); c < count; c++) copy.apply(c);
            return timing.timeDecode(onePeak, body);
        } finally {
            layers.reversed().forEach(CudaMlaLayer::close);
            held.forEach(DeviceBuffer::close);
        }
    }

    /**
     * Random parameters under the CPU layer's names and shapes: linears N(0, 0.02)-scaled like Init.linear
     * (uniform of that standard deviation), norm weights 1.
     */
    static Map<String, double[]> randomParameters(MlaConfig c, long seed) {
        int e = c.dModel(), n = c.nHeads(), dqk = c.qkHeadDim(), r = c.kvLoraRank(), rq = c.qLoraRank();
        Map<String, double[]> p = new LinkedHashMap<>();
        if (c.hasQueryCompression()) {
            p.put("q_a_proj.weight", scaled((long) rq * e, seed + 1));
            p.put("q_a_layernorm.weight", ones(rq));
            p.put("q_b_proj.weight", scaled((long) n * dqk * rq, seed + 2));
        } else {
            p.put("q_proj.weight", scaled((long) n * dqk * e, seed + 1));
        }
        p.put("kv_a_proj_with_mqa.weight", scaled((long) (r + c.qkRopeHeadDim()) * e, seed + 3));
        p.put("kv_a_layernorm.weight", ones(r));
        p.put("kv_b_proj.weight", scaled((long) n * (c.qkNopeHeadDim() + c.vHeadDim()) * r, seed + 4));
        p.put("o_proj.weight", scaled((long) e * n * c.vHeadDim(), seed + 5));
        return p;
    }

    private static double[] scaled(long n, long seed) {
        double[] d = CudaBenchCli.Random.doubles(n, seed);
        for (int i = 0; i < d.length; i++) d[i] *= 0.02;
        return d;
    }

    private static double[] ones(int n) {
        double[] d = new double[n];
        java.util.Arrays.fill(d, 1.0);
        return d;
    }

    private DeviceBuffer random(List<DeviceBuffer> held, long n, long s, double scale) {
        return CudaBenchmarkRun.randomBf16(cuda, held, n, seed * 31 + s, scale);
    }

    private DeviceBuffer alloc(List<DeviceBuffer> held, long bytes) {
        return CudaBenchmarkRun.scratch(cuda, held, bytes);
    }
}
