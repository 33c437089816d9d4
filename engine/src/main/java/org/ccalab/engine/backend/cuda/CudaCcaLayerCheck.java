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
 * temperature fp32; the temperature moved off its initial value so that its gradient is not special) on the same
 * bf16 input and output gradient. Shared by {@link CudaBenchCli}'s check phase, the benchmark run's error column
 * and the gpu-tagged CudaCcaLayerGpuTest, so that they cannot drift.
 *
 * <p>Tolerances. Forward {@link #FORWARD_TOLERANCE}: {@link CudaBenchCli}'s CCA layer check's bound (five bf16
 * roundings of intermediates, ~2e-3 each). Gradients {@link #GRADIENT_TOLERANCE}: the backward adds bf16 roundings of
 * dO, dy and dz and bf16 P / dS in the flash backward's MMAs to the forward's; on the same kind of inputs the plain
 * bf16 PyTorch layer's autograd lands at 0.5e-2 to 1.6e-2 relative on these gradients against float64 and our
 * Python-launched backward (the same kernels and TF32 stage-2 GEMMs) at 0.35e-2 to 1.3e-2 (run 19,
 * bench/results/2026-11-23-run19-layer_backward.txt); 3e-2 is about twice the worst of either. A wrong tap, sign,
 * head mapping, shift or layout gives O(1).
 */
final class CudaCcaLayerCheck {
    static final double FORWARD_TOLERANCE = 1e-2, GRADIENT_TOLERANCE = 3e-2;

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
                    v[i] = (cfg.conv().keyTemperature() == KeyTemperature.LINEAR ? 1.0 : 0.0) + 0.3 * (i + 1) - 0.2;
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
     * One forward and backward of both layers on fresh inputs from {@code seed}: errors of "out", "dx" and each
     * parameter's gradient (CPU names), in that order.
     */
    Map<String, CudaBenchCli.Err> run(CudaBackend cuda, int batch, int tokens, long seed) {
        int e = cfg.dModel(), rows = batch * tokens;
        short[] x = CudaBenchCli.Random.bf16((long) rows * e, seed);
        short[] g = CudaBenchCli.Random.bf16((long) rows * e, seed + 1);
        for (Parameter prm : reference.parameters()) prm.zeroGrad();
        ForwardPass pass = reference.forward(Tensor.wrap(Bf16.toDoubles(x), batch, tokens, e));
        double[] wantOut = pass.output().data();
        double[] wantDx = reference.backward(pass, Tensor.wrap(Bf16.toDoubles(g), batch, tokens, e)).data();
        Map<String, CudaBenchCli.Err> err = new LinkedHashMap<>();
        try (CudaCcaLayer layer = new CudaCcaLayer(cuda, cfg, params, batch, tokens);
             DeviceBuffer dxIn = cuda.uploadBf16(x); DeviceBuffer dg = cuda.uploadBf16(g);
             DeviceBuffer out = cuda.allocate((long) rows * e * 2); DeviceBuffer dx = cuda.allocate((long) rows * e * 2)) {
            cuda.poison(out);
            cuda.poison(dx);
            layer.forward(out, dxIn);
            layer.backward(dx, dg);
            err.put("out", CudaBenchCli.Err.of(Bf16.toDoubles(cuda.downloadBf16(out, rows * e)), wantOut));
            err.put("dx", CudaBenchCli.Err.of(Bf16.toDoubles(cuda.downloadBf16(dx, rows * e)), wantDx));
            Map<String, double[]> got = layer.gradients();
            for (Parameter prm : reference.parameters()) {
                double[] have = got.get(prm.name());
                if (have == null) throw new IllegalStateException("the GPU layer has no gradient for " + prm.name());
                err.put(prm.name(), CudaBenchCli.Err.of(have, prm.grad().data()));
            }
        }
        return err;
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

    /** The bound for one entry of {@link #run}'s result. */
    static double tolerance(String what) {
        return what.equals("out") ? FORWARD_TOLERANCE : GRADIENT_TOLERANCE;
    }
}
