package org.ccalab.engine.run;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.Scope;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.cost.CostEstimate;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.engine.attention.AttentionCore;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.DecodeState;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.model.AttentionFactory;
import org.ccalab.engine.model.SplitMix64;
import org.ccalab.engine.tensor.Tensor;

/**
 * One BENCHMARK run on the CPU: times one attention layer of the variant at (batch, seqLen) for each phase
 * (FORWARD = causal prefill of S tokens; BACKWARD = its backward; DECODE = one token at context S after S
 * tokens in the state, the context growing by one per timed step), p10/p50/p90 over the timed iterations.
 *
 * <p>Honest limits, stated in each cell's backend string: the CPU computes in float64 whatever dtype is
 * asked. A cell records the requested (storage) dtype as its {@code dtype}, so sweeps over dtypes keep distinct
 * cells, and KV bytes per token at that dtype (a storage property, the cost model's number); the compute precision
 * actually used is the backend's, {@code cpu-fp64}, the prefix of every cell's backend string. Latency, FLOP/s and
 * bytes/s are those of the float64 computation (bytes at 8 per element). CORE cells time the layer's {@link AttentionCore} without its
 * projections (see {@link CoreBench}; a layer without one is timed whole and marked {@code core=layer}); the
 * error columns measure the fp64 layer run on inputs and weights rounded to the spec's dtype against the unrounded run (the storage error of that
 * dtype, not a reduced-precision kernel's); for DECODE they compare decode with the fp64 prefill instead. Context
 * S - 1 is reached by one chunked prefill into the decode state, then token S - 1 is decoded and checked.
 */
final class BenchmarkRun {
    static final String BACKEND = "cpu-fp64";

    private final RunSpec spec;
    private final RunObserver observer;
    private final AttentionFactory attention;
    private long kvBytesPerToken; // at the requested storage dtype

    BenchmarkRun(RunSpec spec, RunObserver observer, AttentionFactory attention) {
        this.spec = spec;
        this.observer = observer;
        this.attention = attention;
    }

    void execute() {
        BenchmarkSpec bs = spec.benchmark();
        // The CPU kernel could mask either way, but the layers (and OVQ's chunked state, CCA's causal convs) are built
        // causal: a non-causal benchmark needs a CUDA worker. Refused before anything is allocated, naming the field.
        if (!bs.causal())
            throw new InvalidConfigException("benchmark.causal", "false is not supported on the CPU backend (its"
                    + " attention layers are causal only); run non-causal benchmarks on a CUDA worker");
        AttentionConfig cfg = spec.variant();
        int b = bs.batch(), s = bs.seqLen(), e = cfg.dModel();
        CpuLimits.requireArray("activations [batch, seqLen, dModel]", (long) b * s * e);
        // Before the first allocation: a run that cannot fit would starve the whole (shared) JVM, not just fail.
        CpuMemory.require("benchmark " + cfg.family() + " dModel " + e + " at batch " + b + " x seqLen " + s,
                CpuMemory.benchmarkBytes(cfg, bs));
        AttentionLayer layer = attention.create(cfg, SplitMix64.derive(spec.seed(), "bench-init"));
        SplitMix64 rng = SplitMix64.derive(spec.seed(), "bench-data");
        Tensor x = gaussian(rng, b, s, e);  // [B, S, E]
        Tensor dy = gaussian(rng, b, s, e); // [B, S, E]
        CostEstimate cost = CostModel.estimate(cfg, s, 8); // what the float64 computation moves
        kvBytesPerToken = CostModel.kvCacheBytesPerToken(cfg, bs.dtypeBytes());
        long paramBytes = 8L * parameterCount(layer);
        CoreBench<?> core = layer.core().map(c -> new CoreBench<>(c, layer.parameters(), x, rng)).orElse(null);
        for (Phase phase : bs.phases()) {
            if (observer.stopRequested()) throw new RunStoppedException(0);
            Measured m = switch (phase) {
                case FORWARD -> timeForward(layer, x, bs);
                case BACKWARD -> timeBackward(layer, x, dy, bs);
                case DECODE -> timeDecode(layer, x, rng, bs);
            };
            double[] err = switch (phase) {
                case FORWARD -> storageError(layer, x, null, bs.dtype());
                case BACKWARD -> storageError(layer, x, dy, bs.dtype());
                case DECODE -> m.decodeError();
            };
            double p50s = m.p50() / 1e3;
            List<BenchmarkCell> cells = new ArrayList<>();
            for (Scope scope : bs.scopes()) {
                if (scope == Scope.CORE && core != null) {
                    cells.add(core.cell(phase, bs, cost, err, this::pollStop));
                    continue;
                }
                double flops = flops(phase, cost, b);
                double bytes = bytesMoved(phase, cost, paramBytes, b, s, e);
                cells.add(new BenchmarkCell(phase, scope, true, b, s, bs.dtype(), backendNote(scope == Scope.CORE, bs.dtype(), phase),
                        m.p10(), m.p50(), m.p90(), flops / p50s / 1e12, bytes / p50s,
                        paramBytes + m.allocatedBytes(), kvBytesPerToken, err[0], err[1]));
            }
            observer.cells(cells);
        }
    }

    /**
     * The backend with its caveats, kept within the 64 characters benchmark_cell.backend allows (V004):
     * {@code core=layer} a CORE cell of a layer without a separable core times the whole layer;
     * {@code err=<dtype>-rounded} the error is the fp64 run on inputs and weights rounded to that dtype;
     * {@code err=ref} fp64 is the reference; {@code err=decode-vs-prefill} the last prefill token's decode
     * output against the fp64 forward pass at that position (for a CORE decode cell, the layer's).
     */
    static String backendNote(boolean coreIsLayer, String dtype, Phase phase) {
        StringBuilder sb = new StringBuilder(BACKEND);
        if (coreIsLayer) sb.append(" core=layer");
        if (phase == Phase.DECODE) sb.append(" err=decode-vs-prefill");
        else if (dtype.equals("fp64")) sb.append(" err=ref");
        else sb.append(" err=").append(dtype).append("-rounded");
        return sb.toString();
    }

    /**
     * CORE cells: the layer's {@link AttentionCore} timed on inputs projected once. FORWARD and BACKWARD run
     * the core's forward and backward over S tokens; DECODE runs the backend's decode attention for one query
     * per sequence over a cache of S random keys and values of the core's decode shape (for MLA the absorbed
     * latent rows), which is what the layer's decode step spends its S-dependent time in. FLOPs are the cost
     * model's: the causal S^2 attention term plus the CCA convolutions for prefill (backward twice that),
     * {@code decodeFlops(S) - decodeFlops(0)} for decode. Bytes: the core's inputs and output once (backward:
     * inputs, output and dOut read, input gradients written); decode: the cache once plus q and o.
     */
    private final class CoreBench<I> {
        private final AttentionCore<I> core;
        private final Tensor x;         // [B, S, E]
        private final Tensor dOut;      // [B, S, Hq Dv]
        private final SplitMix64 rng;
        private final List<Parameter> layerParameters;
        private final long inputElements, outputElements;

        CoreBench(AttentionCore<I> core, List<Parameter> layerParameters, Tensor x, SplitMix64 rng) {
            this.core = core;
            this.layerParameters = layerParameters;
            this.x = x;
            this.rng = rng;
            I in = core.prepare(x);
            long n = 0;
            for (double[] buf : core.buffers(in)) n += buf.length;
            this.inputElements = n;
            Tensor out = core.forward(in).output();
            this.outputElements = out.length();
            this.dOut = gaussian(rng, out.shape());
        }

        BenchmarkCell cell(Phase phase, BenchmarkSpec bs, CostEstimate cost, double[] layerDecodeError, Runnable poll) {
            int b = bs.batch(), s = bs.seqLen();
            double attentionCausal = (double) cost.prefillAttentionFlops() / (2.0 * s) * (s + 1);
            double prefill = b * (attentionCausal + cost.prefillConvFlops());
            Measured m;
            double flops, bytes;
            double[] err;
            switch (phase) {
                case FORWARD -> {
                    I in = core.prepare(x);
                    m = time(bs, poll, () -> core.forward(in));
                    flops = prefill;
                    bytes = 8.0 * (inputElements + outputElements);
                    err = storageError(bs.dtype(), false);
                }
                case BACKWARD -> {
                    ForwardPass pass = core.forward(core.prepare(x));
                    m = time(bs, poll, () -> core.backward(pass, dOut));
                    flops = 2 * prefill;
                    bytes = 8.0 * (2 * inputElements + 2 * outputElements);
                    err = storageError(bs.dtype(), true);
                }
                case DECODE -> {
                    AttentionCore.DecodeShape d = core.decodeShape();
                    CpuLimits.requireArray("decode cache [batch, seqLen, kvHeads, qkDim]", (long) b * s * d.kvHeads() * d.qkDim());
                    double[] k = gaussianArray(rng, b * s * d.kvHeads() * d.qkDim()); // [B, S, Hkv, Dk]
                    double[] v = gaussianArray(rng, b * s * d.kvHeads() * d.vDim());  // [B, S, Hkv, Dv]
                    double[] q = gaussianArray(rng, b * d.qHeads() * d.qkDim());      // [B, Hq, Dk]
                    double[] o = new double[b * d.qHeads() * d.vDim()];               // [B, Hq, Dv]
                    var kernel = CpuBackend.create().attention();
                    m = time(bs, poll, () -> kernel.decode(o, q, k, v, s, s, b, d.qHeads(), d.kvHeads(), d.qkDim(), d.vDim(), d.scale()));
                    flops = (double) b * (cost.decodeFlops() - CostModel.decodeFlops(spec.variant(), 0));
                    bytes = (double) b * cost.decodeCacheBytesRead() + 8.0 * (q.length + o.length);
                    err = layerDecodeError;
                }
                default -> throw new IllegalStateException("phase " + phase);
            }
            double p50s = m.p50() / 1e3;
            return new BenchmarkCell(phase, Scope.CORE, true, b, s, bs.dtype(), backendNote(false, bs.dtype(), phase),
                    m.p10(), m.p50(), m.p90(), flops / p50s / 1e12, bytes / p50s,
                    8 * inputElements + m.allocatedBytes(), kvBytesPerToken, err[0], err[1]);
        }

        /**
         * {maxAbs, normwise maxRel} of the core's output (or input gradients) when its inputs and the
         * parameters it reads are first rounded to {@code dtype}, against the unrounded run.
         */
        private double[] storageError(String dtype, boolean backward) {
            if (dtype.equals("fp64")) return new double[] {0.0, 0.0};
            double[] reference = runCore(backward);
            List<Parameter> ps = layerParameters;
            List<double[]> saved = new ArrayList<>();
            for (Parameter p : ps) {
                saved.add(p.value().data().clone());
                round(p.value().data(), dtype);
            }
            double[] rounded;
            try {
                rounded = runCore(backward, dtype);
            } finally {
                for (int i = 0; i < ps.size(); i++)
                    System.arraycopy(saved.get(i), 0, ps.get(i).value().data(), 0, saved.get(i).length);
            }
            return compare(rounded, reference);
        }

        private double[] runCore(boolean backward) {
            return runCore(backward, null);
        }

        private double[] runCore(boolean backward, String roundTo) {
            I in = core.prepare(x);
            if (roundTo != null) for (double[] buf : core.buffers(in)) round(buf, roundTo);
            ForwardPass pass = core.forward(in);
            if (!backward) return pass.output().data().clone();
            I grads = core.backward(pass, dOut);
            for (Parameter p : layerParameters) p.zeroGrad();
            int n = 0;
            for (double[] buf : core.buffers(grads)) n += buf.length;
            double[] all = new double[n];
            int at = 0;
            for (double[] buf : core.buffers(grads)) {
                System.arraycopy(buf, 0, all, at, buf.length);
                at += buf.length;
            }
            return all;
        }
    }

    /** Warm-up, then the timed iterations of one call; the first timed call's allocation is kept. */
    private static Measured time(BenchmarkSpec bs, Runnable poll, Runnable call) {
        for (int i = 0; i < bs.warmup(); i++) call.run();
        double[] ms = new double[bs.iterations()];
        long alloc = 0;
        for (int i = 0; i < ms.length; i++) {
            poll.run();
            long a0 = allocated();
            long t0 = System.nanoTime();
            call.run();
            ms[i] = (System.nanoTime() - t0) / 1e6;
            if (i == 0) alloc = allocated() - a0;
        }
        return measured(ms, alloc, null);
    }

    private static double[] compare(double[] actual, double[] reference) {
        double maxAbs = 0, maxRef = 0;
        for (int i = 0; i < reference.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(actual[i] - reference[i]));
            maxRef = Math.max(maxRef, Math.abs(reference[i]));
        }
        return new double[] {maxAbs, maxRef == 0 ? 0 : maxAbs / maxRef};
    }

    /** Latency percentiles in ms and the bytes allocated by one call (an upper bound of its working set). */
    record Measured(double p10, double p50, double p90, long allocatedBytes, double[] decodeError) {}

    private Measured timeForward(AttentionLayer layer, Tensor x, BenchmarkSpec bs) {
        for (int i = 0; i < bs.warmup(); i++) layer.forward(x);
        double[] ms = new double[bs.iterations()];
        long alloc = 0;
        for (int i = 0; i < ms.length; i++) {
            pollStop();
            long a0 = allocated();
            long t0 = System.nanoTime();
            layer.forward(x);
            ms[i] = (System.nanoTime() - t0) / 1e6;
            if (i == 0) alloc = allocated() - a0;
        }
        return measured(ms, alloc, null);
    }

    private Measured timeBackward(AttentionLayer layer, Tensor x, Tensor dy, BenchmarkSpec bs) {
        ForwardPass pass = layer.forward(x);
        for (int i = 0; i < bs.warmup(); i++) layer.backward(pass, dy);
        double[] ms = new double[bs.iterations()];
        long alloc = 0;
        for (int i = 0; i < ms.length; i++) {
            pollStop();
            for (Parameter p : layer.parameters()) p.zeroGrad();
            long a0 = allocated();
            long t0 = System.nanoTime();
            layer.backward(pass, dy);
            ms[i] = (System.nanoTime() - t0) / 1e6;
            if (i == 0) alloc = allocated() - a0;
        }
        return measured(ms, alloc, null);
    }

    private Measured timeDecode(AttentionLayer layer, Tensor x, SplitMix64 rng, BenchmarkSpec bs) {
        int b = x.dim(0), s = x.dim(1), e = x.dim(2);
        DecodeState state = layer.newDecodeState(b);
        // Context S - 1 by one chunked prefill, then token S - 1 by decode: the step that is checked.
        if (s > 1) {
            double[] head = new double[b * (s - 1) * e]; // [B, S - 1, E]
            for (int i = 0; i < b; i++) System.arraycopy(x.data(), i * s * e, head, i * (s - 1) * e, (s - 1) * e);
            layer.prefill(state, Tensor.wrap(head, b, s - 1, e));
        }
        double[] xt = new double[b * e]; // [B, E]
        for (int i = 0; i < b; i++) System.arraycopy(x.data(), (i * s + s - 1) * e, xt, i * e, e);
        pollStop();
        Tensor last = layer.decode(state, Tensor.wrap(xt, b, e)); // decode output of token S-1 [B, E]
        double[] decodeError = decodeVsPrefill(layer, x, last);
        for (int i = 0; i < bs.warmup(); i++) layer.decode(state, gaussian(rng, b, e));
        double[] ms = new double[bs.iterations()];
        long alloc = 0;
        for (int i = 0; i < ms.length; i++) {
            pollStop();
            Tensor step = gaussian(rng, b, e);
            long a0 = allocated();
            long t0 = System.nanoTime();
            layer.decode(state, step);
            ms[i] = (System.nanoTime() - t0) / 1e6;
            if (i == 0) alloc = allocated() - a0 + state.bytes(8);
        }
        return measured(ms, alloc, decodeError);
    }

    /**
     * {maxAbs, maxRel} of the layer output (FORWARD, dy == null) or input gradient (BACKWARD) when inputs
     * and weights are first rounded to {@code dtype}; maxRel is normwise: maxAbs / max |reference|.
     */
    private static double[] storageError(AttentionLayer layer, Tensor x, Tensor dy, String dtype) {
        if (dtype.equals("fp64")) return new double[] {0.0, 0.0};
        double[] reference = run(layer, x, dy);
        List<double[]> saved = new ArrayList<>();
        for (Parameter p : layer.parameters()) {
            saved.add(p.value().data().clone());
            round(p.value().data(), dtype);
        }
        Tensor xr = x.copy();
        round(xr.data(), dtype);
        double[] rounded;
        try {
            rounded = run(layer, xr, dy);
        } finally {
            List<Parameter> ps = layer.parameters();
            for (int i = 0; i < ps.size(); i++)
                System.arraycopy(saved.get(i), 0, ps.get(i).value().data(), 0, saved.get(i).length);
        }
        double maxAbs = 0, maxRef = 0;
        for (int i = 0; i < reference.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(rounded[i] - reference[i]));
            maxRef = Math.max(maxRef, Math.abs(reference[i]));
        }
        return new double[] {maxAbs, maxRef == 0 ? 0 : maxAbs / maxRef};
    }

    private static double[] run(AttentionLayer layer, Tensor x, Tensor dy) {
        ForwardPass pass = layer.forward(x);
        if (dy == null) return pass.output().data().clone();
        double[] dx = layer.backward(pass, dy).data().clone();
        for (Parameter p : layer.parameters()) p.zeroGrad();
        return dx;
    }

    static void round(double[] v, String dtype) {
        for (int i = 0; i < v.length; i++) {
            v[i] = switch (dtype) {
                case "fp32" -> (float) v[i];
                case "fp16" -> Float.float16ToFloat(Float.floatToFloat16((float) v[i]));
                case "bf16" -> bf16((float) v[i]);
                default -> v[i];
            };
        }
    }

    /** Round-to-nearest-even to bfloat16's 8-bit mantissa (NaN and infinities pass through). */
    static float bf16(float f) {
        if (!Float.isFinite(f)) return f;
        int bits = Float.floatToRawIntBits(f);
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(rounded & 0xFFFF0000);
    }

    /**
     * FLOPs from the exact cost model: causal prefill per sequence; backward as twice the forward (the
     * usual count: one matmul for the input gradient and one for the weight gradient per forward matmul);
     * one decode step at context S.
     */
    static double flops(Phase phase, CostEstimate cost, int batch) {
        return switch (phase) {
            case FORWARD -> (double) batch * cost.prefillFlopsCausal();
            case BACKWARD -> 2.0 * batch * cost.prefillFlopsCausal();
            case DECODE -> (double) batch * cost.decodeFlops();
        };
    }

    /**
     * The minimum bytes a phase must move at 8 bytes per element: weights once, activations once (x and y;
     * for backward x, dy, dx and the weight gradients), and for decode the KV cache of S tokens once.
     */
    static double bytesMoved(Phase phase, CostEstimate cost, long paramBytes, int b, int s, int e) {
        double act = 8.0 * b * s * e;
        return switch (phase) {
            case FORWARD -> paramBytes + 2 * act;
            case BACKWARD -> 2.0 * paramBytes + 3 * act;
            case DECODE -> paramBytes + (double) b * cost.decodeCacheBytesRead() + 2 * 8.0 * b * e;
        };
    }

    private static Measured measured(double[] ms, long alloc, double[] decodeError) {
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        return new Measured(percentile(sorted, 0.10), percentile(sorted, 0.50), percentile(sorted, 0.90), Math.max(0, alloc),
                decodeError);
    }

    /** {maxAbs, normwise maxRel} of decode's output for token S-1 against the forward pass at S-1. */
    private static double[] decodeVsPrefill(AttentionLayer layer, Tensor x, Tensor decoded) {
        int b = x.dim(0), s = x.dim(1), e = x.dim(2);
        double[] y = layer.forward(x).output().data(); // [B, S, E]
        double maxAbs = 0, maxRef = 0;
        for (int i = 0; i < b; i++)
            for (int j = 0; j < e; j++) {
                double ref = y[(i * s + s - 1) * e + j];
                maxAbs = Math.max(maxAbs, Math.abs(decoded.data()[i * e + j] - ref));
                maxRef = Math.max(maxRef, Math.abs(ref));
            }
        return new double[] {maxAbs, maxRef == 0 ? 0 : maxAbs / maxRef};
    }

    /** Linear interpolation between closest ranks. */
    static double percentile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(sorted.length - 1, lo + 1);
        return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    }

    private void pollStop() {
        if (observer.stopRequested()) throw new RunStoppedException(0);
    }

    private static long parameterCount(AttentionLayer layer) {
        long n = 0;
        for (Parameter p : layer.parameters()) n += p.value().length();
        return n;
    }

    private static double[] gaussianArray(SplitMix64 rng, int n) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = rng.nextGaussian();
        return d;
    }

    private static Tensor gaussian(SplitMix64 rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        double[] d = t.data();
        for (int i = 0; i < d.length; i++) d[i] = rng.nextGaussian();
        return t;
    }

    /** Bytes allocated by every thread so far (the fork-join workers allocate too); -1 when unsupported. */
    private static long allocated() {
        if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t
                && t.isThreadAllocatedMemorySupported() && t.isThreadAllocatedMemoryEnabled())
            return t.getTotalThreadAllocatedBytes();
        return 0;
    }
}
