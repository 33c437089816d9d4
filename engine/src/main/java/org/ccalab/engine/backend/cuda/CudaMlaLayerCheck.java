package org.ccalab.engine.backend.cuda;

import java.util.LinkedHashMap;
import java.util.Map;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.tensor.Tensor;

/**
 * The GPU MLA layer ({@link CudaMlaLayer}) against the float64 CPU layer
 * ({@link org.ccalab.engine.attention.mla.MlaAttention}) with the same parameters, rounded first as the GPU stores
 * them (linears bf16, norm gains fp32; the gains set to 1 + 0.25 sin i rather than the initial 1, so that a dropped gain
 * shows), on the same bf16 inputs. Shared by {@link CudaBenchCli}'s check phase
 * and the gpu-tagged CudaMlaGpuTest so that they cannot drift.
 *
 * <p>Tolerance {@link #TOLERANCE}: the GPU rounds seven intermediates to bf16 (q, rotated q, a, c, k^C / v,
 * attention output, y; decode: the absorbed q and un-absorbed output instead of k^C / v), each ~1.1e-3 rms
 * relative, plus bf16 probabilities in the attention MMAs. A numpy model of exactly these rounding points
 * (float64 otherwise) gave 3.3e-3 to 4.2e-3 for both configs of the test at T 1..333, prefill and decode, and
 * 3.4e-3 to 4.1e-3 between decode and prefill rows; 1e-2 (the CCA layer check's bound) is ~2.4x that. A wrong
 * head mapping, rope pair, norm or split gives O(1).
 *
 * <p>Backward ({@link #run}): dx and every parameter gradient against MlaAttention.backward, with the CCA layer
 * check's bounds and noise estimate ({@link CudaCcaLayerCheck#tolerance(String, CudaCcaLayerCheck.Entry)}: at least
 * {@link CudaCcaLayerCheck#GRADIENT_TOLERANCE}, 3x the GPU's measured rounding noise where that is larger, capped).
 * Why that bound fits MLA too: the backward adds the same kinds of roundings as the CCA layer's (bf16 dO, dKvUp, dc,
 * da, dq and bf16 P / dS in the core backward's MMAs) and none of its sharp-softmax cases: with the engine's init
 * (0.02-std linears, unit-RMS latent) the logits stay O(1). Plain bf16 PyTorch autograd of this layer on the same
 * kind of inputs (bench/mla_layer_floor.py, run s4-mla-1, docs/perf-log.md) stays under half the bound. A wrong
 * head sum, rotation sign, norm or transposition gives O(1).
 */
final class CudaMlaLayerCheck {
    static final double TOLERANCE = 1e-2;

    private final CudaBackend cuda;
    private final MlaConfig cfg;
    private final AttentionLayer reference;
    private final Map<String, double[]> params = new LinkedHashMap<>();

    CudaMlaLayerCheck(CudaBackend cuda, MlaConfig cfg) {
        this.cuda = cuda;
        this.cfg = cfg;
        this.reference = AttentionLayers.create(cfg, new java.util.Random(7));
        for (Parameter prm : reference.parameters()) {
            double[] d = prm.value().data();
            boolean norm = prm.name().contains("layernorm");
            // norm gains moved off their initial 1 (1 + 0.25 sin i) so that the gain enters every formula it is in
            for (int i = 0; i < d.length; i++) d[i] = norm ? (float) (1 + 0.25 * Math.sin(i)) : Bf16.toFloat(Bf16.fromFloat((float) d[i]));
            params.put(prm.name(), d);
        }
    }

    String describe() {
        return "MLA E" + cfg.dModel() + " n" + cfg.nHeads() + " r_kv " + cfg.kvLoraRank() + " d_qk " + cfg.qkHeadDim()
                + " d_v " + cfg.vHeadDim() + (cfg.hasQueryCompression() ? " r_q " + cfg.qLoraRank() : "");
    }

    private double[] cpuForward(short[] x, int batch, int tokens) {
        return reference.forward(Tensor.wrap(Bf16.toDoubles(x), batch, tokens, cfg.dModel())).output().data();
    }

    /** GPU prefill of x [B, T, E] against the CPU forward. */
    CudaBenchCli.Err prefill(int batch, int tokens, long seed) {
        int e = cfg.dModel(), rows = batch * tokens;
        short[] x = CudaBenchCli.Random.bf16((long) rows * e, seed);
        double[] want = cpuForward(x, batch, tokens);
        try (CudaMlaLayer layer = new CudaMlaLayer(cuda, cfg, params, batch, tokens);
             DeviceBuffer dx = cuda.uploadBf16(x); DeviceBuffer dy = cuda.allocate((long) rows * e * 2)) {
            cuda.poison(dy);
            layer.prefill(dy, dx, tokens);
            if (layer.length() != tokens) throw new IllegalStateException("cache length " + layer.length() + " after a prefill of " + tokens);
            return CudaBenchCli.Err.of(Bf16.toDoubles(cuda.downloadBf16(dy, rows * e)), want);
        }
    }

    /** Decoded rows against the same rows of a GPU prefill of all tokens, and against the CPU forward. */
    record DecodeErrors(CudaBenchCli.Err vsPrefill, CudaBenchCli.Err vsCpu) {}

    /**
     * Prefills the first {@code prefilled} tokens (0: decode from an empty cache), decodes the remaining ones
     * token by token on the cache the prefill wrote, and compares the decoded rows.
     */
    DecodeErrors decode(int batch, int tokens, int prefilled, long seed) {
        int e = cfg.dModel(), rows = batch * tokens, steps = tokens - prefilled;
        if (prefilled < 0 || steps < 1) throw new IllegalArgumentException("prefilled " + prefilled + " of " + tokens + " tokens");
        short[] x = CudaBenchCli.Random.bf16((long) rows * e, seed);
        double[] want = cpuForward(x, batch, tokens);
        double[] prefillAll;
        try (CudaMlaLayer full = new CudaMlaLayer(cuda, cfg, params, batch, tokens);
             DeviceBuffer dx = cuda.uploadBf16(x); DeviceBuffer dy = cuda.allocate((long) rows * e * 2)) {
            full.prefill(dy, dx, tokens);
            prefillAll = Bf16.toDoubles(cuda.downloadBf16(dy, rows * e));
        }
        double[] decoded = new double[batch * steps * e], wantRows = new double[decoded.length],
                prefillRows = new double[decoded.length];
        try (CudaMlaLayer layer = new CudaMlaLayer(cuda, cfg, params, batch, tokens);
             DeviceBuffer yt = cuda.allocate((long) batch * e * 2)) {
            if (prefilled > 0) {
                short[] head = new short[batch * prefilled * e];
                for (int b = 0; b < batch; b++) System.arraycopy(x, b * tokens * e, head, b * prefilled * e, prefilled * e);
                try (DeviceBuffer dx = cuda.uploadBf16(head); DeviceBuffer dy = cuda.allocate((long) head.length * 2)) {
                    layer.prefill(dy, dx, prefilled);
                }
            }
            for (int t = prefilled; t < tokens; t++) {
                short[] xt = new short[batch * e];
                for (int b = 0; b < batch; b++) System.arraycopy(x, (b * tokens + t) * e, xt, b * e, e);
                try (DeviceBuffer dxt = cuda.uploadBf16(xt)) {
                    cuda.poison(yt);
                    layer.decode(yt, dxt);
                    double[] y = Bf16.toDoubles(cuda.downloadBf16(yt, batch * e));
                    for (int b = 0; b < batch; b++) {
                        int dst = (b * steps + t - prefilled) * e, src = (b * tokens + t) * e;
                        System.arraycopy(y, b * e, decoded, dst, e);
                        System.arraycopy(want, src, wantRows, dst, e);
                        System.arraycopy(prefillAll, src, prefillRows, dst, e);
                    }
                }
            }
            if (layer.length() != tokens) throw new IllegalStateException("cache length " + layer.length() + " after " + tokens + " tokens");
        }
        return new DecodeErrors(CudaBenchCli.Err.of(decoded, prefillRows), CudaBenchCli.Err.of(decoded, wantRows));
    }

    /**
     * One forward and backward of both layers on fresh inputs from {@code seed}, and again on x and the output gradient
     * g nudged by 1 to 3 bf16 ulps (CudaCcaLayerCheck's noise estimate): per "out", "dx" and each parameter's gradient
     * (CPU names), the GPU's error against float64 and its noise.
     */
    Map<String, CudaCcaLayerCheck.Entry> run(int batch, int tokens, long seed) {
        int rows = batch * tokens, e = cfg.dModel();
        return CudaCcaLayerCheck.measure(seed, rows, e, (x, g) -> CudaCcaLayerCheck.cpuRun(reference, x, g, batch, tokens, e),
                (x, g) -> CudaCcaLayerCheck.gpuRun(cuda, x, g, rows, e, (out, xin, dx, dg) -> {
                    try (CudaMlaLayer layer = new CudaMlaLayer(cuda, cfg, params, batch, tokens)) {
                        layer.forward(out, xin, tokens);
                        layer.backward(dx, dg);
                        return layer.gradients();
                    }
                }));
    }
}
