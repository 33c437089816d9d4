package org.ccalab.engine.backend.cuda;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.tensor.Tensor;

/**
 * The GPU CCA / CCGQA layer ({@link CudaCcaLayer}) against the float64 CPU layer
 * ({@link org.ccalab.engine.attention.cca.CompressedConvAttention}): forward output, dx and every parameter
 * gradient, with the same parameters (rounded first as the GPU stores them: linears bf16, convs and the
 * temperature fp32; the temperature theta moved off its initial value by 0.05 .. 0.35 per KV head so that its
 * gradient is not a special case, beta <= 1.42) on the same bf16 input and output gradient. Shared by
 * {@link CudaBenchCli}'s check phase, the benchmark run's error column and the gpu-tagged CudaCcaLayerGpuTest, so
 * that they cannot drift.
 *
 * <p>Tolerances. Forward {@link #FORWARD_TOLERANCE}: {@link CudaBenchCli}'s CCA layer check's bound (five bf16
 * roundings of intermediates, ~2e-3 each). Gradients {@link #GRADIENT_TOLERANCE}: the backward adds bf16 roundings of
 * dO, dy and dz and bf16 P / dS in the flash backward's MMAs to the forward's; on the same kind of inputs the plain
 * bf16 PyTorch layer's autograd lands at 0.5e-2 to 1.6e-2 relative on these gradients against float64 and our
 * Python-launched backward (the same kernels and TF32 stage-2 GEMMs) at 0.35e-2 to 1.3e-2 (run 19,
 * bench/results/2026-11-23-run19-layer_backward.txt); 3e-2 is about twice the worst of either. A wrong tap, sign,
 * head mapping, shift or layout gives O(1).
 *
 * <p>Where a gradient sits on bf16's noise floor, the bound adapts to a measured floor instead of a guessed one:
 * {@link #run} runs both layers a second time on x and g each moved by 1 to 3 bf16 ulps per element, re-drawing every
 * rounding downstream, and takes the GPU's noise as the change of its error: noise = |e2 - e1| / (sqrt 2 |want|),
 * e1, e2 the GPU-minus-float64 differences at the two inputs. Rounding noise makes e1 and e2 independent (|e2 - e1|
 * ~ sqrt 2 |e1|, error / noise ~ 1); a wrong formula makes them nearly equal (the same bias twice), which the bound
 * then exposes. It matters for CCA with one query head per KV head: there the q/k-path gradients are noisier (E = 512,
 * 4q/4kv: 1.6e-2 to 2.4e-2 at noise 1.2e-2 to 1.8e-2; the temperature's, per KV head a covariance over every softmax
 * row, 5e-2 at noise 3.9e-2) than for CCGQA (under 2e-2).
 *
 * <p>Where the softmax is sharp, the noise estimate undercounts bf16's floor and the bound is taken from a plain bf16
 * implementation on the same inputs instead ({@link PlainBf16}). CCA-4x at E = 2048 with the engine's initialisation
 * (0.02-std linears, U(+-0.71) stage-1 conv; each softmax row's largest weight 0.98 on average, logits up to 13.8) has
 * q/k-path gradients 5.2e-2 to 7.6e-2 and the temperature's 0.196 from float64 at 2.2e-2 to 3.7e-2 "noise". That is
 * not a bug but the flash backward's own floor (run s3-ccaprec-1, bench/cca_case_floor.py on the gpu test's exact
 * inputs, bench/results/2026-11-23-s3-ccaprec-run1-floor_e2048.txt): plain bf16 PyTorch autograd with SDPA flash /
 * cuDNN is 6.0e-2 to 6.8e-2 (q/k path) and 0.107 (temperature) off on the same inputs, and with the conv prologue in
 * fp32 as ours, 5.2e-2 to 7.6e-2 and 0.197, equal to ours to 2 digits; the Python-launched kernels reproduce the Java
 * layer's errors to 3 digits with the wgmma or the mma.sync forward, TF32 or fp32 prologue. A float64 emulation puts
 * the error on one rounding every flash backward makes: D = rowsum(dO o O) from the bf16 O (alone 5.1e-2 on W_q, 0.11
 * on the temperature; bf16 q^, k^ alone 4e-3): with P ~ one-hot, dS = P (dP - D) cancels. The same rounding model
 * (no kernel) has about the same error / noise ratio as ours (2.4 and 4.4 on W_q and the temperature, ours 2.4 and 5.3):
 * a ratio above 1 is a property of these inputs' roundings, not of a wrong formula (likely: 1-3-ulp nudges of x move
 * many elements of O by less than O's bf16 ulp, so their rounding is not re-drawn). (SDPA math, which materialises P and
 * never forms D from O, gets 2.9e-2 and 1.5e-2.) The same mechanism at E = 512 (4q/4kv B2 T200, row maximum 0.91):
 * plain bf16 flash 2.2e-2 to 2.7e-2 and 3.8e-2 (temperature), ours 1.6e-2 to 2.4e-2 and 5.0e-2 (run s3-ccaprec-2).
 *
 * <p>Bound for dx and every gradient: max({@link #GRADIENT_TOLERANCE}, 3 x noise, 2 x the case's measured plain bf16
 * flash error for the q/k-path gradients and the temperature where one was measured), at most {@link #GRADIENT_CAP}
 * ({@link #TEMPERATURE_CAP} for the temperature): the caps are twice the worst plain bf16 flash error measured on any
 * checked case (CCA-4x E = 2048: 6.75e-2 on conv_qk_depthwise.weight with cuDNN, 0.107 on the temperature with FA2).
 * Factor 2 as bench/layer_backward.py's rule; ours is at 0.86x to 1.14x of plain bf16 on the q/k path there and 1.83x
 * on the temperature (0.196 against plain 0.107, bound 0.214). Verified on the H100 (run s3-ccaprec-2,
 * bench/results/2026-11-23-s3-ccaprec-run2-gpu-tests.txt): the case passes at bounds 0.135 / 0.214 with the errors
 * above, every other case unchanged.
 *
 * <p>CCA (one query head per KV head) with the q-k mean at head dim 256 is the same floor, much deeper. The q-k mean
 * makes q^_t and k^_t of one token nearly parallel, and the diagonal's logit grows as sqrt(D): on the gpu test's
 * E = 1024 2q/2kv k0=3 k1=2 LINEAR B2 T150 case each softmax row's largest weight is 0.9993 on average (logits up to
 * 15.8), so dS = P (dP - D) is a cancellation of two nearly equal terms and D = rowsum(dO o O) from the bf16 O decides
 * it. On that case's exact inputs (run s3-floor256-1, bench/results/2026-11-23-s3-floor256-run1-floor_e1024_d256.txt)
 * plain bf16 PyTorch autograd is as far from float64 as ours: SDPA flash 0.73-0.86 on the q/k path and 0.856 on the
 * temperature, cuDNN 0.73-0.86 and 0.866, with the conv prologue in fp32 0.73-0.83 and 0.859; the Java GPU layer
 * 0.73-0.83 and 0.857 (run s3-cca256-2), the Python-launched kernels the same to 3 digits (TF32 or fp32 prologue);
 * out, dx and the value / o_proj gradients at 2-3e-3 everywhere. A float64 emulation with the flash backward's bf16
 * roundings alone reproduces it (0.73-0.83, temperature 0.90), with only D taken from the bf16 O 1.3-1.4 (0.74);
 * SDPA math (P materialised, no D from O) gets 4e-2 to 7e-2. Not a bug: bf16 flash attention's backward cannot resolve
 * these gradients at this init. Without the q-k mean the same D = 256 kernels are at the noise (5e-3), and CCGQA with
 * it (G = 4) at 2e-2. That case carries its plain bf16 figures (0.864 q/k path, 0.866 temperature, the worse of
 * flash and cuDNN), so its bounds are 1.73 (twice plain, over the caps; {@link #tolerance(String, Entry, PlainBf16)}
 * raises the cap to twice a measured plain error and leaves every other case's bound as it was): there the check
 * catches only a gross error on the q/k path, its out, dx and value / o_proj gradients keep the usual bounds.
 * Verified on the H100 (run s3-floor256-2, bench/results/2026-11-23-s3-floor256-run2-gpu-tests-cca.txt): the case
 * passes with the errors above, every other case's bound as in run s3-cca256-1.
 *
 * <p>Since session 4 the layer's flash backward forms D from O plus the forward's rounding residual
 * ({@link CudaCcaLayer#RESIDUAL}), which lifts it off that floor: the E = 2048 case's q/k path is at 5.5e-3 to 7.0e-3
 * and its temperature at 1.7e-2, the D = 256 case's at 5.6e-3 to 5.9e-3 and 6.5e-3 (runs s4-prec-1 / -2). The bounds
 * here are unchanged (they hold with or without the residual); CudaOResidualGpuTest asserts the improvement.
 */
final class CudaCcaLayerCheck {
    static final double FORWARD_TOLERANCE = 1e-2, GRADIENT_TOLERANCE = 3e-2, GRADIENT_CAP = 0.135, TEMPERATURE_CAP = 0.214;

    /**
     * A plain bf16 implementation's error on a case's exact inputs (bench/cca_case_floor.py: PyTorch autograd, bf16
     * weights and activations, SDPA flash and cuDNN, the worse of the two): the worst over the q/k-path gradients
     * (q_proj, k_proj, the two convs) and the temperature's. {@link #NONE} where none was measured.
     */
    record PlainBf16(double qkPath, double temperature) {
        static final PlainBf16 NONE = new PlainBf16(0, 0);

        double of(String what) {
            if (what.equals("temp")) return temperature;
            return what.startsWith("q_proj") || what.startsWith("k_proj") || what.startsWith("conv_") ? qkPath : 0;
        }
    }

    /** One compared quantity: the GPU's error against float64 and its measured rounding noise (both relative). */
    record Entry(CudaBenchCli.Err err, double noise) {}

    private final CcgqaConfig cfg;
    private final AttentionLayer reference;
    private final Map<String, double[]> params = new LinkedHashMap<>();

    CudaCcaLayerCheck(CcgqaConfig cfg, long seed) {
        this.cfg = cfg;
        this.reference = AttentionLayers.create(cfg, new java.util.Random(seed));
        for (Parameter prm : reference.parameters()) {
            double[] v = prm.value().data();
            boolean conv = prm.name().startsWith("conv") || prm.name().equals("temp");
            if (prm.name().equals("temp"))
                for (int i = 0; i < v.length; i++)
                    v[i] = (cfg.conv().keyTemperature() == KeyTemperature.LINEAR ? 1.0 : 0.0) + 0.1 * (i % 4) + 0.05;
            for (int i = 0; i < v.length; i++) v[i] = conv ? (float) v[i] : Bf16.toFloat(Bf16.fromFloat((float) v[i]));
            params.put(prm.name(), v);
        }
    }

    Map<String, double[]> parameters() {
        return params;
    }

    String describe() {
        var cv = cfg.conv();
        return (cfg.nQHeads() == cfg.nKvHeads() ? "CCA" : "CCGQA") + " E" + cfg.dModel() + " " + cfg.nQHeads() + "q/" + cfg.nKvHeads()
                + "kv D" + cfg.headDim() + " k0=" + cv.convSeqKernel() + " k1=" + cv.convChannelKernel() + " " + cv.keyTemperature()
                + (cv.qkMean() ? "" : " no-qk-mean") + (cv.valueShift() ? "" : " no-shift");
    }

    /**
     * One forward and backward of both layers on fresh inputs from {@code seed}, and again on x and the output
     * gradient g moved by 1 to 3 bf16 ulps per element: per "out", "dx" and each parameter's gradient (CPU names), in
     * that order, the GPU's error against float64 at (x, g) and its noise (class comment).
     */
    Map<String, Entry> run(CudaBackend cuda, int batch, int tokens, long seed) {
        int e = cfg.dModel(), rows = batch * tokens;
        return measure(seed, rows, e, (x, g) -> cpuRun(reference, x, g, batch, tokens, e),
                (x, g) -> gpuRun(cuda, x, g, rows, e, gpuLayer(cuda, batch, tokens)));
    }

    /**
     * The GPU layer's results ("out", "dx" and every parameter gradient, CPU names) at the unmoved inputs {@link #run}
     * draws from {@code seed}: one forward and backward, for comparing runs with each other.
     */
    Map<String, double[]> gpuResults(CudaBackend cuda, int batch, int tokens, long seed) {
        int e = cfg.dModel(), rows = batch * tokens;
        short[][] xg = inputs(seed, rows, e);
        return gpuRun(cuda, xg[0], xg[1], rows, e, gpuLayer(cuda, batch, tokens));
    }

    /** The layer input x and output gradient g [rows, E] that {@link #measure} draws from {@code seed}. */
    private static short[][] inputs(long seed, int rows, int e) {
        return new short[][] {CudaBenchCli.Random.bf16((long) rows * e, seed), CudaBenchCli.Random.bf16((long) rows * e, seed + 1)};
    }

    private GpuStep gpuLayer(CudaBackend cuda, int batch, int tokens) {
        return (out, xin, dx, dg) -> {
            try (CudaCcaLayer layer = new CudaCcaLayer(cuda, cfg, params, batch, tokens)) {
                layer.forward(out, xin);
                layer.backward(dx, dg);
                return layer.gradients();
            }
        };
    }

    /**
     * The comparison of {@link #run} for any layer pair: fresh x and g [rows, E] from {@code seed} and their 1-3-ulp
     * nudges, each through the float64 {@code cpu} and the GPU {@code gpu} (both give "out", "dx" and the parameter
     * gradients under the CPU names), then {@link #compare}. Shared with {@link CudaMlaLayerCheck}.
     */
    static Map<String, Entry> measure(long seed, int rows, int e,
                                      java.util.function.BiFunction<short[], short[], Map<String, double[]>> cpu,
                                      java.util.function.BiFunction<short[], short[], Map<String, double[]>> gpu) {
        short[][] xg = inputs(seed, rows, e);
        short[] x = xg[0], g = xg[1];
        short[] xp = nudge(x, seed + 2), gp = nudge(g, seed + 3);
        return compare(cpu.apply(x, g), cpu.apply(xp, gp), gpu.apply(x, g), gpu.apply(xp, gp));
    }

    /**
     * Per key of {@code want} (the float64 results at (x, g)): the GPU's error against it and the GPU's noise from the
     * second pair of results at the nudged inputs (class comment). Shared with {@link CudaMlaLayerCheck}.
     */
    static Map<String, Entry> compare(Map<String, double[]> want, Map<String, double[]> want2, Map<String, double[]> got,
                                      Map<String, double[]> got2) {
        Map<String, Entry> result = new LinkedHashMap<>();
        want.forEach((k, w) -> {
            double[] have = got.get(k), have2 = got2.get(k), w2 = want2.get(k);
            if (have == null) throw new IllegalStateException("the GPU layer has no gradient for " + k);
            double num = 0, den = 0;
            for (int i = 0; i < w.length; i++) {
                double d = (have2[i] - w2[i]) - (have[i] - w[i]);
                num += d * d;
                den += w[i] * w[i];
            }
            result.put(k, new Entry(CudaBenchCli.Err.of(have, w), Math.sqrt(num / Math.max(den, 1e-300) / 2)));
        });
        return result;
    }

    /**
     * Every element moved by 1 to 3 bf16 ulps (+-1..3 in the bit pattern, never across zero: |v| >> ulp), random
     * sign: enough to re-draw the roundings of everything computed from it.
     */
    static short[] nudge(short[] v, long seed) {
        double[] r = CudaBenchCli.Random.doubles(v.length, seed);
        short[] out = v.clone();
        for (int i = 0; i < out.length; i++) {
            int k = 1 + (int) Math.min(2, Math.abs(r[i]) * 1.7320508075688772);
            out[i] = (short) (out[i] + (r[i] > 0 ? k : -k));
        }
        return out;
    }

    /** The float64 CPU layer's out, dx and parameter gradients (CPU names) for x and g [B, T, E] (gradients zeroed first). */
    static Map<String, double[]> cpuRun(AttentionLayer reference, short[] x, short[] g, int batch, int tokens, int e) {
        for (Parameter prm : reference.parameters()) prm.zeroGrad();
        ForwardPass pass = reference.forward(Tensor.wrap(Bf16.toDoubles(x), batch, tokens, e));
        Map<String, double[]> r = new LinkedHashMap<>();
        r.put("out", pass.output().data().clone());
        r.put("dx", reference.backward(pass, Tensor.wrap(Bf16.toDoubles(g), batch, tokens, e)).data().clone());
        for (Parameter prm : reference.parameters()) r.put(prm.name(), prm.grad().data().clone());
        return r;
    }

    /** A GPU layer's training forward (x into out) and backward (g into dx); returns its parameter gradients (CPU names). */
    interface GpuStep {
        Map<String, double[]> run(DeviceBuffer out, DeviceBuffer x, DeviceBuffer dx, DeviceBuffer g);
    }

    /** A GPU layer's out, dx and parameter gradients (CPU names) for x and g [rows, E]: out and dx poisoned first. */
    static Map<String, double[]> gpuRun(CudaBackend cuda, short[] x, short[] g, int rows, int e, GpuStep step) {
        try (DeviceBuffer dxIn = cuda.uploadBf16(x); DeviceBuffer dg = cuda.uploadBf16(g);
             DeviceBuffer out = cuda.allocate((long) rows * e * 2); DeviceBuffer dx = cuda.allocate((long) rows * e * 2)) {
            cuda.poison(out);
            cuda.poison(dx);
            Map<String, double[]> grads = step.run(out, dxIn, dx, dg);
            Map<String, double[]> r = new LinkedHashMap<>();
            r.put("out", Bf16.toDoubles(cuda.downloadBf16(out, rows * e)));
            r.put("dx", Bf16.toDoubles(cuda.downloadBf16(dx, rows * e)));
            r.putAll(grads);
            return r;
        }
    }

    /**
     * The GPU layer's decode ({@link CudaCcaLayer#decode}) token by token from a zero state over {@code tokens}
     * tokens against the CPU layer's causal forward over all of them (cca.md: decode equals prefill row by row).
     */
    CudaBenchCli.Err decode(CudaBackend cuda, int batch, int tokens, long seed) {
        int e = cfg.dModel(), rows = batch * tokens;
        short[] x = CudaBenchCli.Random.bf16((long) rows * e, seed);
        double[] want = reference.forward(Tensor.wrap(Bf16.toDoubles(x), batch, tokens, e)).output().data();
        double[] got = new double[want.length];
        try (CudaCcaLayer layer = new CudaCcaLayer(cuda, cfg, params, batch, 1);
             CudaCcaLayer.DecodeState st = layer.newDecodeState(tokens);
             DeviceBuffer yt = cuda.allocate((long) batch * e * 2)) {
            for (int t = 0; t < tokens; t++) {
                short[] xt = new short[batch * e];
                for (int b = 0; b < batch; b++) System.arraycopy(x, (b * tokens + t) * e, xt, b * e, e);
                try (DeviceBuffer dxt = cuda.uploadBf16(xt)) {
                    cuda.poison(yt);
                    layer.decode(yt, dxt, st);
                    double[] y = Bf16.toDoubles(cuda.downloadBf16(yt, batch * e));
                    for (int b = 0; b < batch; b++) System.arraycopy(y, b * e, got, (b * tokens + t) * e, e);
                }
            }
        }
        return CudaBenchCli.Err.of(got, want);
    }

    /** The fixed bound of one entry of {@link #run}'s result ("out": forward; else a gradient). */
    static double tolerance(String what) {
        return what.equals("out") ? FORWARD_TOLERANCE : GRADIENT_TOLERANCE;
    }

    /** The bound for one entry of {@link #run}'s result: fixed for "out", noise-adaptive for the rest (class comment). */
    static double tolerance(String what, Entry entry) {
        return tolerance(what, entry, PlainBf16.NONE);
    }

    /**
     * The bound for one entry of {@link #run}'s result on a case with a measured plain bf16 error: fixed for "out",
     * else the larger of the noise-adaptive bound and twice the plain bf16 error, capped at the larger of the fixed cap
     * and twice the plain bf16 error (class comment: only the D = 256 CCA case's plain error is over the caps).
     */
    static double tolerance(String what, Entry entry, PlainBf16 plain) {
        if (what.equals("out")) return FORWARD_TOLERANCE;
        double twicePlain = 2 * plain.of(what);
        return Math.min(Math.max(what.equals("temp") ? TEMPERATURE_CAP : GRADIENT_CAP, twicePlain),
                Math.max(Math.max(GRADIENT_TOLERANCE, 3 * entry.noise()), twicePlain));
    }

    /** Whether every entry is within its bound. */
    static boolean ok(Map<String, Entry> result) {
        return result.entrySet().stream().allMatch(x -> x.getValue().err().rel() < tolerance(x.getKey(), x.getValue()));
    }
}
