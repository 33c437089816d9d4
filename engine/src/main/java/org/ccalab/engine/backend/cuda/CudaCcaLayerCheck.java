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
 * <p>The key temperature's gradient is the exception: with random output gradients it is, per KV head, a covariance
 * over every softmax row (sum_ij P_ij (dP_ij - D_i) S_ij), small against its terms, so the bf16 rounding of P, dS and
 * O in any bf16 attention backward moves it by more than 3e-2 relative (the plain bf16 PyTorch layer: up to 3e-2 at
 * T = 200 in run 19; ours up to 3.8e-2 at E = 512 and, likely, 0.15 at E = 2048 with beta up to 2.7:
 * bench/results/2026-11-23-s3-layer-run1-gpu-tests.txt). Its bound is measured, not guessed: {@link #run} also
 * runs the GPU layer on a copy of x perturbed at the bf16 ulp level and reports how far the GPU's own result moves
 * ({@link Entry#spread}): rounding noise moves it about as far as it is from float64, a wrong formula does not
 * (while the float64 layer's temperature gradient moves by only 3e-3 to 7e-3 when x gets relative noise of 2^-8,
 * measured on the CPU for four of the test's configs). Temperature bound:
 * max({@link #GRADIENT_TOLERANCE}, 3 x spread), at most {@link #TEMPERATURE_CAP}.
 */
final class CudaCcaLayerCheck {
    static final double FORWARD_TOLERANCE = 1e-2, GRADIENT_TOLERANCE = 3e-2, TEMPERATURE_CAP = 0.25;

    /** One compared quantity: its error against float64 and the relative move of the GPU result under the perturbation. */
    record Entry(CudaBenchCli.Err err, double spread) {}

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
     * One forward and backward of both layers on fresh inputs from {@code seed}, and of the GPU layer once more on
     * x with about a third of its elements moved by one bf16 ulp: per "out", "dx" and each parameter's gradient
     * (CPU names), in that order, the GPU's error against float64 and the spread between the two GPU results.
     */
    Map<String, Entry> run(CudaBackend cuda, int batch, int tokens, long seed) {
        int e = cfg.dModel(), rows = batch * tokens;
        short[] x = CudaBenchCli.Random.bf16((long) rows * e, seed);
        short[] g = CudaBenchCli.Random.bf16((long) rows * e, seed + 1);
        double[] noise = CudaBenchCli.Random.doubles(x.length, seed + 2);
        short[] xp = x.clone();
        for (int i = 0; i < xp.length; i++)
            if (noise[i] > 0.6) xp[i] = (short) (xp[i] + (noise[i] > 1.2 ? 1 : -1)); // one ulp (never onto 0: |x| > 0)
        for (Parameter prm : reference.parameters()) prm.zeroGrad();
        ForwardPass pass = reference.forward(Tensor.wrap(Bf16.toDoubles(x), batch, tokens, e));
        Map<String, double[]> want = new LinkedHashMap<>();
        want.put("out", pass.output().data());
        want.put("dx", reference.backward(pass, Tensor.wrap(Bf16.toDoubles(g), batch, tokens, e)).data());
        for (Parameter prm : reference.parameters()) want.put(prm.name(), prm.grad().data());
        Map<String, double[]> got = gpu(cuda, x, g, batch, tokens), moved = gpu(cuda, xp, g, batch, tokens);
        Map<String, Entry> result = new LinkedHashMap<>();
        want.forEach((k, w) -> {
            double[] have = got.get(k);
            if (have == null) throw new IllegalStateException("the GPU layer has no gradient for " + k);
            result.put(k, new Entry(CudaBenchCli.Err.of(have, w), CudaBenchCli.Err.of(moved.get(k), have).rel()));
        });
        return result;
    }

    /** The GPU layer's out, dx and parameter gradients (CPU names) for x and g. */
    private Map<String, double[]> gpu(CudaBackend cuda, short[] x, short[] g, int batch, int tokens) {
        int e = cfg.dModel(), rows = batch * tokens;
        try (CudaCcaLayer layer = new CudaCcaLayer(cuda, cfg, params, batch, tokens);
             DeviceBuffer dxIn = cuda.uploadBf16(x); DeviceBuffer dg = cuda.uploadBf16(g);
             DeviceBuffer out = cuda.allocate((long) rows * e * 2); DeviceBuffer dx = cuda.allocate((long) rows * e * 2)) {
            cuda.poison(out);
            cuda.poison(dx);
            layer.forward(out, dxIn);
            layer.backward(dx, dg);
            Map<String, double[]> r = new LinkedHashMap<>();
            r.put("out", Bf16.toDoubles(cuda.downloadBf16(out, rows * e)));
            r.put("dx", Bf16.toDoubles(cuda.downloadBf16(dx, rows * e)));
            r.putAll(layer.gradients());
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

    /** The bound for one entry of {@link #run}'s result: fixed, but for the temperature's (see the class comment). */
    static double tolerance(String what, Entry entry) {
        if (!what.equals("temp")) return tolerance(what);
        return Math.min(TEMPERATURE_CAP, Math.max(GRADIENT_TOLERANCE, 3 * entry.spread()));
    }

    /** Whether every entry is within its bound. */
    static boolean ok(Map<String, Entry> result) {
        return result.entrySet().stream().allMatch(x -> x.getValue().err().rel() < tolerance(x.getKey(), x.getValue()));
    }
}
