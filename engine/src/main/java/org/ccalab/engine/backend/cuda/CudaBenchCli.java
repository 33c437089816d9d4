package org.ccalab.engine.backend.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;

/**
 * Benchmarks the CUDA backend: variants x sequence lengths x phases, JSON out, a short table on stdout.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp engine.jar:... org.ccalab.engine.backend.cuda.CudaBenchCli \
 *     [--out cuda_bench.json] [--seqs 1024,4096,16384] [--phases check,core,decode,gemm,layer,mla,paper,ovq] [--reps 20]
 * </pre>
 * Phases: {@code check} (GPU vs the float64 CPU reference on fresh random inputs: flash forward per variant
 * shape, decode, decode == last prefill row, GEMM), {@code core} (attention forward causal and not, for head dims
 * 64, 128 and 256, and backward causal and not for 64 and 128), {@code decode}
 * (one token over a KV cache, KV bytes/s; D = 128 shapes and the paper grid's batch-1 heads at D = 256 and 64),
 * {@code gemm} (the model's projection shapes + 8192^3) and
 * {@code layer} (whole attention layers at E = 2048: MHA/GQA = 3 GEMMs + flash + out GEMM; CCA/CCGQA = 2 GEMMs
 * + prologue + flash with fused value shift + out GEMM) and {@code mla} (MLA at E = 2048, V2-Lite r_kv 512 and
 * MLA-4 r_kv 960: prefill core, absorbed decode over the latent cache, whole layer prefill, decode step and backward; its
 * checks are in {@code check}); {@code paper} (not in the default list: the CCA paper's kernel benchmark grid as the
 * paper lays it out, {@link CudaPaperBenchmark}; pass --seqs 512,1024,2048,4096,8192,16384 for its lengths). {@code layer} also times each D = 128 layer's whole backward up to 16k
 * ({@link #layerBackward}; the layers' backward and decode are checked against the CPU in {@code check}). Times are CUDA-event medians after warm-up, inputs
 * rotated over two sets; decode over as many sets as keep each call's cache out of the L2 ({@link #coldSets}), timed
 * eagerly and from graph replays. Exit status 1 when a check fails.
 */
public final class CudaBenchCli {
    static final int E = 2048;

    /** An attention shape of the paper's kernel benchmark at E = 2048. */
    record Variant(String name, String family, int qHeads, int kvHeads, int headDim) {}

    static final List<Variant> VARIANTS = List.of(
            new Variant("MHA 16x128", "mha", 16, 16, 128),
            new Variant("GQA-4 16q/4kv", "gqa", 16, 4, 128),
            new Variant("GQA-8 16q/2kv", "gqa", 16, 2, 128),
            new Variant("CCA-4x 4q/4kv", "cca", 4, 4, 128),
            new Variant("CCGQA 8q/2kv (2x/8x)", "ccgqa", 8, 2, 128),
            // The headline CCGQA: query compression 4 (E / (4 x 128)), KV compression 8 and 16.
            new Variant("CCGQA-4x 4q/2kv (4x/8x)", "ccgqa", 4, 2, 128),
            new Variant("CCGQA-4x 4q/1kv (4x/16x)", "ccgqa", 4, 1, 128),
            // The paper's other head dims at the same width.
            new Variant("MHA 32x64", "mha", 32, 32, 64),
            new Variant("GQA-4 32q/8kv d64", "gqa", 32, 8, 64),
            new Variant("CCA-4x 8q/8kv d64", "cca", 8, 8, 64),
            new Variant("MHA 8x256", "mha", 8, 8, 256),
            new Variant("GQA-4 8q/2kv d256", "gqa", 8, 2, 256),
            new Variant("GQA-8 8q/1kv d256", "gqa", 8, 1, 256),
            new Variant("CCA-4x 2q/2kv d256", "cca", 2, 2, 256));

    /**
     * MLA at the paper's width: DeepSeek-V2-Lite's attention (16 heads, d_qk 192, d_v 128, r_kv 512, d_r 64) and
     * MLA-4 (r_kv 960: the MHA/4 cache of mla.md section 6).
     */
    static final List<MlaConfig> MLA = List.of(MlaConfig.kvMatched(E, 16, 512), MlaConfig.kvMatched(E, 16, 960));
    /**
     * MLA at head dim 64 (E = 1024, 16 heads: d_qk 128 / d_v 64, r_kv 256, d_r 64): no instance of its own, so its
     * prefill core runs padded on the flash kernels and its decode on the padded ring (session 13).
     */
    static final MlaConfig MLA_HEAD64 = MlaConfig.kvMatched(1024, 16, 256);
    /** d_qk 96 / d_v 64 at 16 heads: its own mla_fwd / mla_bwd (mma.sync) timed beside the padded flash path. */
    static final MlaConfig MLA_96 = new MlaConfig(1024, 16, 0, 448, 32, 64, 64, 10_000.0, 1e-6);

    private final CudaBackend cuda;
    private final int reps;
    private final List<Map<String, Object>> cells = new ArrayList<>();
    private final List<String> table = new ArrayList<>();
    private boolean checksFailed;

    CudaBenchCli(CudaBackend cuda, int reps) {
        this.cuda = cuda;
        this.reps = reps;
    }

    public static void main(String[] args) throws IOException {
        Map<String, String> opt = parse(args);
        Path out = Path.of(opt.getOrDefault("out", "cuda_bench.json"));
        int[] seqs = Arrays.stream(opt.getOrDefault("seqs", "1024,4096,16384").split(",")).mapToInt(Integer::parseInt).toArray();
        List<String> phases = List.of(opt.getOrDefault("phases", "check,core,decode,gemm,layer,mla").split(","));
        CudaProbe probe = CudaBackend.probe();
        System.out.println("probe: " + probe.describe());
        if (!probe.available()) {
            System.err.println("CUDA backend unavailable: " + probe.reason());
            System.exit(2);
        }
        try (CudaBackend cuda = CudaBackend.open()) {
            CudaBenchCli cli = new CudaBenchCli(cuda, Integer.parseInt(opt.getOrDefault("reps", "20")));
            if (phases.contains("check")) cli.checks();
            if (phases.contains("core")) cli.core(seqs);
            if (phases.contains("decode")) cli.decode();
            if (phases.contains("gemm")) cli.gemm();
            if (phases.contains("layer")) cli.layers(seqs);
            if (phases.contains("paper")) new CudaPaperBenchmark(cli, cuda).run(seqs);
            if (phases.contains("mla")) {
                cli.mlaCore(seqs);
                cli.mlaDecode();
                cli.mlaLayers(seqs);
            }
            if (phases.contains("ovq")) new CudaOvqCli(cli, cuda).run(seqs);
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("device", probe.describe());
            doc.put("kernels", probe.kernelsSource());
            doc.put("kernelBuildHash", cuda.kernelBuildHash());
            doc.put("deterministicBackward", cuda.deterministicBackward());
            doc.put("jvm", System.getProperty("java.vm.name") + " " + Runtime.version());
            doc.put("checksPassed", !cli.checksFailed);
            doc.put("cells", cli.cells);
            Files.writeString(out, Json.write(doc));
            System.out.println();
            cli.table.forEach(System.out::println);
            System.out.println(cli.checksFailed ? "SOME CHECKS FAILED" : "ALL CHECKS PASSED");
            System.out.println("wrote " + out.toAbsolutePath());
            if (cli.checksFailed) System.exit(1);
        }
    }

    boolean checksFailed() {
        return checksFailed;
    }

    // ---------------------------------------------------------------- correctness

    void checks() {
        AttentionKernel ref = CpuBackend.create().attention();
        for (Variant v : VARIANTS)
            for (int t : new int[] {1, 200, 517})
                for (boolean causal : new boolean[] {true, false}) checkFlash(ref, v, 2, t, causal);
        checkDecode(ref, new Variant("GQA 8q/2kv", "gqa", 8, 2, 128), 2, 700, 1000);
        checkDecode(ref, new Variant("MHA 4x64", "mha", 4, 4, 64), 1, 3000, 3000);
        checkGemm(300, 200, 256);
        checkBackward(ref, new Variant("GQA 4q/2kv", "gqa", 4, 2, 128), 2, 150, true);
        checkBackward(ref, new Variant("MHA 2x64", "mha", 2, 2, 64), 1, 333, false);
        checkBackward(ref, new Variant("GQA 4q/2kv d256", "gqa", 4, 2, 256), 2, 150, true);
        checkBackward(ref, new Variant("MHA 2x256", "mha", 2, 2, 256), 1, 97, false);
        checkMlaBackward(ref, 2, 150, 4, 192, 128, true, CudaMla.CorePath.RULE);
        // 96 / 64 on its own (mma.sync) kernel and as the rule runs it (padded onto the wgmma flash kernel on sm_90a)
        checkMlaBackward(ref, 1, 130, 4, 96, 64, false, CudaMla.CorePath.OWN);
        checkMlaBackward(ref, 1, 130, 4, 96, 64, false, CudaMla.CorePath.RULE);
        // (d_qk, d_v) with no mla_bwd instance: the flash backward on zero-padded operands (head dim 64 configs' 128 / 64)
        checkMlaBackward(ref, 2, 150, 4, 128, 64, true, CudaMla.CorePath.RULE);
        checkMlaBackward(ref, 1, 97, 2, 56, 40, false, CudaMla.CorePath.RULE);
        checkCcaLayer(new CcgqaConfig(256, 2, 2, 64), 2, 150);    // CCA, C = 2, fused value shift (even Hkv)
        checkCcaLayer(new CcgqaConfig(512, 4, 2, 64), 1, 300);    // CCGQA, G = 2
        checkCcaLayer(new CcgqaConfig(256, 2, 1, 128), 2, 70);    // one KV head: the value-shift kernel path
        checkCcaLayer(new CcgqaConfig(512, 4, 1, 128), 1, 200);   // CCGQA-4x shape: G = 4 onto one KV head
        checkCcaLayer(new CcgqaConfig(1024, 2, 1, 256), 2, 150);  // D = 256 CCGQA, G = 2 onto one KV head
        checkCcaLayer(new CcgqaConfig(1024, 2, 2, 256), 1, 200);  // D = 256 CCA, fused value shift
        // the GPU layers' backward (dx and every parameter gradient) and decode against the float64 CPU layers
        checkLayerBackward(new CcgqaConfig(512, 4, 4, 128), 2, 200);  // CCA, G = 1 (E = 2048: the gpu test, bound from plain bf16)
        checkLayerBackward(new CcgqaConfig(512, 4, 2, 128, new org.ccalab.common.variant.CompressedConvSpec(3, 3, null,
                KeyTemperature.LINEAR, null, null, null)), 2, 150);
        checkLayerBackward(new CcgqaConfig(512, 4, 1, 64, new org.ccalab.common.variant.CompressedConvSpec(2, 2, null,
                KeyTemperature.CLAMPED_EXP, null, null, null)), 1, 257);
        checkCcaDecodeLayer(new CcgqaConfig(E, 4, 4, 128), 2, 40);
        checkCcaDecodeLayer(new CcgqaConfig(512, 8, 2, 64), 1, 70);
        checkLayerBackward(new CcgqaConfig(1024, 2, 1, 256), 1, 150);  // D = 256 CCGQA (run s3-cca256-1: q/k path 7-13e-2, noise-bound)
        checkCcaDecodeLayer(new CcgqaConfig(1024, 2, 2, 256), 1, 40);
        checkGqaLayer(new Variant("GQA 16q/4kv", "gqa", 16, 4, 128), 1, 200);
        checkGqaLayer(new Variant("MHA 8x64", "mha", 8, 8, 64), 2, 150);
        checkMlaCore(ref, 2, 333, 16, 192, 128, true);
        checkMlaCore(ref, 1, 200, 4, 192, 128, false);
        checkMlaCore(ref, 2, 130, 4, 96, 64, true, CudaMla.CorePath.OWN);
        checkMlaCore(ref, 2, 130, 4, 96, 64, true);
        checkMlaCore(ref, 2, 150, 8, 128, 64, true);   // padded to the flash kernels' head dim 128
        checkMlaCore(ref, 1, 97, 2, 56, 40, false);    // padded to 64
        checkMlaCore(ref, 1, 200, 4, 256, 200, true);  // padded to 256
        checkMlaDecode(ref, 2, 700, 1000, 16, 512, 64);
        checkMlaDecode(ref, 1, 4097, 4097, 20, 960, 64);
        checkMlaDecode(ref, 3, 65, 100, 16, 448, 64);
        // latent / rope widths with no instance of their own: the padded rings (fused at batch 1, else + combine)
        checkMlaDecode(ref, 1, 5000, 5000, 16, 256, 64);
        checkMlaDecode(ref, 2, 700, 1000, 8, 200, 32);
        checkMlaDecode(ref, 1, 3000, 3000, 16, 512, 32);
        checkMlaDecode(ref, 3, 65, 100, 20, 96, 0);
        checkMlaDecode(ref, 2, 700, 1000, 16, 640, 64);  // above 512: the split kernel at 960, padded
        CudaMlaLayerCheck mla = new CudaMlaLayerCheck(cuda, MLA.get(0));
        Err pre = mla.prefill(1, 200, 61);
        record("check", "mla layer prefill vs CPU " + mla.describe() + " B1 T200", pre.rel() < CudaMlaLayerCheck.TOLERANCE, pre,
                Map.of());
        CudaMlaLayerCheck.DecodeErrors dec = mla.decode(1, 100, 90, 62);
        record("check", "mla layer decode == prefill rows " + mla.describe() + " B1 T90..99",
                dec.vsPrefill().rel() < CudaMlaLayerCheck.TOLERANCE, dec.vsPrefill(), Map.of());
        record("check", "mla layer decode vs CPU " + mla.describe() + " B1 T90..99", dec.vsCpu().rel() < CudaMlaLayerCheck.TOLERANCE,
                dec.vsCpu(), Map.of());
        // head dim 64 (d_qk 128 / d_v 64, r_kv 256): the padded prefill core and decode ring through the layer
        CudaMlaLayerCheck small = new CudaMlaLayerCheck(cuda, MLA_HEAD64);
        Err smallPre = small.prefill(2, 150, 64);
        record("check", "mla layer prefill vs CPU " + small.describe() + " B2 T150", smallPre.rel() < CudaMlaLayerCheck.TOLERANCE,
                smallPre, Map.of());
        CudaMlaLayerCheck.DecodeErrors smallDec = small.decode(1, 80, 60, 65);
        record("check", "mla layer decode == prefill rows " + small.describe() + " B1 T60..79",
                smallDec.vsPrefill().rel() < CudaMlaLayerCheck.TOLERANCE, smallDec.vsPrefill(), Map.of());
        record("check", "mla layer decode vs CPU " + small.describe() + " B1 T60..79",
                smallDec.vsCpu().rel() < CudaMlaLayerCheck.TOLERANCE, smallDec.vsCpu(), Map.of());
        // the MLA layer backward: dx and every parameter gradient vs the float64 CPU layer (direct and low-rank q)
        for (MlaConfig c : List.of(MLA.get(0), new MlaConfig(512, 4, 256, 448, 32, 64, 64, 10_000.0, 1e-6), MLA_HEAD64)) {
            CudaMlaLayerCheck bc = new CudaMlaLayerCheck(cuda, c);
            bc.run(1, 200, 63).forEach((what, x) -> record("check", "mla layer backward vs CPU " + bc.describe() + " B1 T200 "
                    + what, x.err().rel() < CudaCcaLayerCheck.tolerance(what, x), x.err(),
                    Map.of("gpuNoise", x.noise(), "tolerance", CudaCcaLayerCheck.tolerance(what, x))));
        }
    }

    /** The MLA prefill core (d_qk != d_v) against the CPU attention kernel in float64 on the same bf16 inputs. */
    private void checkMlaCore(AttentionKernel ref, int batch, int tokens, int heads, int qkDim, int vDim, boolean causal) {
        checkMlaCore(ref, batch, tokens, heads, qkDim, vDim, causal, CudaMla.CorePath.RULE);
    }

    private void checkMlaCore(AttentionKernel ref, int batch, int tokens, int heads, int qkDim, int vDim, boolean causal,
                              CudaMla.CorePath path) {
        long rows = (long) batch * tokens * heads;
        short[] qb = Random.bf16(rows * qkDim, 71 + tokens), kb = Random.bf16(rows * qkDim, 72 + tokens);
        short[] vb = Random.bf16(rows * vDim, 73 + tokens);
        double scale = 1 / Math.sqrt(qkDim);
        double[] o = new double[(int) (rows * vDim)], lse = new double[(int) rows];
        ref.forward(o, lse, Bf16.toDoubles(qb), Bf16.toDoubles(kb), Bf16.toDoubles(vb),
                new AttentionKernel.Dims(batch, tokens, heads, heads, qkDim, vDim, scale, causal));
        CudaMla mla = new CudaMla(cuda).withCorePath(path);
        try (DeviceBuffer q = cuda.uploadBf16(qb); DeviceBuffer k = cuda.uploadBf16(kb); DeviceBuffer v = cuda.uploadBf16(vb);
             DeviceBuffer dout = cuda.allocate(rows * vDim * 2); DeviceBuffer dl = cuda.allocate(rows * 4)) {
            cuda.poison(dout);
            cuda.poison(dl);
            mla.forward(dout, dl, q, k, v, batch, tokens, heads, qkDim, vDim, causal, scale);
            Err e = Err.of(Bf16.toDoubles(cuda.downloadBf16(dout, (int) (rows * vDim))), o);
            float[] gotLse = cuda.downloadFloats(dl, (int) rows);
            double lseErr = 0;
            for (int i = 0; i < lse.length; i++) lseErr = Math.max(lseErr, Double.isNaN(gotLse[i]) ? 1e9 : Math.abs(gotLse[i] - lse[i]));
            // as flash_fwd: bf16 output rounding plus bf16 probabilities
            record("check", mla.coreKernel(qkDim, vDim, causal, false) + " B" + batch + " T" + tokens + " H" + heads,
                    e.rel() < 8e-3 && lseErr < 1e-3, e, Map.of("lseMaxAbsError", lseErr));
        }
    }

    private void checkMlaBackward(AttentionKernel ref, int batch, int tokens, int heads, int qkDim, int vDim, boolean causal,
                                  CudaMla.CorePath path) {
        String name = new CudaMla(cuda).withCorePath(path).coreKernel(qkDim, vDim, causal, true) + " B" + batch + " T" + tokens
                + " H" + heads;
        // bf16 probabilities and dS in the MMAs, as flash_bwd
        mlaBackwardErrors(ref, batch, tokens, heads, qkDim, vDim, causal, path).forEach((grad, err) -> record("check",
                name + " " + grad, err.rel() < 8e-3, err, Map.of()));
    }

    /**
     * dq, dk, dv of the MLA prefill core's backward (d_qk != d_v) against the CPU attention kernel's backward in
     * float64 (the one MlaAttention's backward runs) on the same bf16 inputs and dO, with the GPU forward's o and lse.
     */
    Map<String, Err> mlaBackwardErrors(AttentionKernel ref, int batch, int tokens, int heads, int qkDim, int vDim,
                                       boolean causal) {
        return mlaBackwardErrors(ref, batch, tokens, heads, qkDim, vDim, causal, CudaMla.CorePath.RULE);
    }

    /** As above, on the prefill core's given path (CudaMla.CorePath: its own kernels, padded, or the rule's). */
    Map<String, Err> mlaBackwardErrors(AttentionKernel ref, int batch, int tokens, int heads, int qkDim, int vDim,
                                       boolean causal, CudaMla.CorePath path) {
        long rows = (long) batch * tokens * heads;
        short[] qb = Random.bf16(rows * qkDim, 91), kb = Random.bf16(rows * qkDim, 92), vb = Random.bf16(rows * vDim, 93);
        short[] gb = Random.bf16(rows * vDim, 94);
        double scale = 1 / Math.sqrt(qkDim);
        var dims = new AttentionKernel.Dims(batch, tokens, heads, heads, qkDim, vDim, scale, causal);
        CudaMla mla = new CudaMla(cuda).withCorePath(path);
        try (DeviceBuffer q = cuda.uploadBf16(qb); DeviceBuffer k = cuda.uploadBf16(kb); DeviceBuffer v = cuda.uploadBf16(vb);
             DeviceBuffer g = cuda.uploadBf16(gb); DeviceBuffer o = cuda.allocate(rows * vDim * 2);
             DeviceBuffer lse = cuda.allocate(rows * 4); DeviceBuffer dq = cuda.allocate(rows * qkDim * 4);
             DeviceBuffer dk = cuda.allocate(rows * qkDim * 4); DeviceBuffer dv = cuda.allocate(rows * vDim * 4)) {
            mla.forward(o, lse, q, k, v, batch, tokens, heads, qkDim, vDim, causal, scale);
            double[] oRef = Bf16.toDoubles(cuda.downloadBf16(o, (int) (rows * vDim)));
            double[] lseRef = cuda.downloadDoubles(lse, (int) rows);
            double[] wq = new double[(int) (rows * qkDim)], wk = new double[(int) (rows * qkDim)], wv = new double[(int) (rows * vDim)];
            ref.backward(wq, wk, wv, Bf16.toDoubles(gb), Bf16.toDoubles(qb), Bf16.toDoubles(kb), Bf16.toDoubles(vb), oRef,
                    lseRef, dims);
            cuda.poison(dq);
            cuda.poison(dk);
            cuda.poison(dv);
            mla.backward(dq, dk, dv, q, k, v, o, lse, g, batch, tokens, heads, qkDim, vDim, causal, scale);
            return gradientErrors(dq, wq, dk, wk, dv, wv);
        }
    }

    /**
     * Absorbed MLA decode (latent o~ = sum_s p_s c_s, fp32) against the CPU decode kernel as MQA over the latent
     * rows [c ; k^R] with values c, in float64 on the same bf16 cache and absorbed queries.
     */
    private void checkMlaDecode(AttentionKernel ref, int batch, int length, int capacity, int heads, int latent, int dr) {
        int dk = latent + dr;
        double scale = 1 / Math.sqrt(128 + dr);
        short[] cache = Random.bf16((long) batch * capacity * dk, 81 + length), qa = Random.bf16((long) batch * heads * dk, 82);
        double[] rowsD = Bf16.toDoubles(cache), values = new double[batch * capacity * latent];
        for (int i = 0; i < batch * capacity; i++) System.arraycopy(rowsD, i * dk, values, i * latent, latent);
        double[] want = new double[batch * heads * latent];
        ref.decode(want, Bf16.toDoubles(qa), rowsD, values, capacity, length, batch, heads, 1, dk, latent, scale);
        CudaMla mla = new CudaMla(cuda);
        try (DeviceBuffer dc = cuda.uploadBf16(cache); DeviceBuffer dq = cuda.uploadBf16(qa);
             DeviceBuffer out = cuda.allocate((long) want.length * 4)) {
            cuda.poison(out);
            mla.decode(out, dq, dc, batch, length, capacity, heads, latent, dr, scale);
            float[] got = cuda.downloadFloats(out, want.length);
            double[] g = new double[got.length];
            for (int i = 0; i < g.length; i++) g[i] = got[i];
            Err e = Err.of(g, want);
            // fp32 output; bf16 probabilities in the P.C MMA are the one rounding (~2e-3)
            record("check", mla.decodeInstance(latent, dr).name() + " B" + batch + " H" + heads + " L" + length + " cap" + capacity,
                    e.rel() < 8e-3, e, Map.of());
        }
    }

    /**
     * A whole CCA/CCGQA layer on the GPU (2 GEMMs, prologue, attention with value shift, out GEMM) against the
     * float64 CPU layer ({@link org.ccalab.engine.attention.AttentionLayers}) with the same parameters. Weights
     * are rounded to bf16 (GEMMs) / float (convs) in the CPU layer first, so the difference is the GPU's bf16
     * intermediates (z, q̂, k̂, y, attention output: ~2^-9 each) and float32 accumulation.
     */
    private void checkCcaLayer(CcgqaConfig cfg, int batch, int tokens) {
        AttentionLayer layer = AttentionLayers.create(cfg, new java.util.Random(7));
        Map<String, double[]> p = new LinkedHashMap<>();
        for (var prm : layer.parameters()) {
            double[] d = prm.value().data();
            boolean conv = prm.name().startsWith("conv") || prm.name().equals("temp");
            if (prm.name().equals("temp")) for (int i = 0; i < d.length; i++) d[i] = 0.3 * (i + 1) - 0.2;
            for (int i = 0; i < d.length; i++) d[i] = conv ? (float) d[i] : Bf16.toFloat(Bf16.fromFloat((float) d[i]));
            p.put(prm.name(), d);
        }
        int e = cfg.dModel(), hq = cfg.nQHeads(), hkv = cfg.nKvHeads(), d = cfg.headDim(), c = (hq + hkv) * d, dk = hkv * d;
        int k0 = cfg.conv().convSeqKernel(), k1 = cfg.conv().convChannelKernel(), rows = batch * tokens;
        short[] x = Bf16.fromDoubles(Random.doubles((long) rows * e, 41));
        double[] want = layer.forward(org.ccalab.engine.tensor.Tensor.wrap(Bf16.toDoubles(x), batch, tokens, e)).output().data();
        AttentionShape s = new AttentionShape(batch, tokens, hq, hkv, d);
        List<DeviceBuffer> held = new ArrayList<>();
        try {
            DeviceBuffer dx = keep(held, cuda.uploadBf16(x));
            DeviceBuffer wqk = keep(held, cuda.uploadBf16(Bf16.fromDoubles(concat(p.get("q_proj.weight"), p.get("k_proj.weight")))));
            DeviceBuffer wv = keep(held, cuda.uploadBf16(Bf16.fromDoubles(
                    concat(p.get("v_proj_current.weight"), p.get("v_proj_delayed.weight")))));
            DeviceBuffer wo = keep(held, cuda.uploadBf16(Bf16.fromDoubles(p.get("o_proj.weight"))));
            CcaPrologueWeights w = new CcaPrologueWeights(keep(held, cuda.uploadFloats(floats(p.get("conv_qk_depthwise.weight")))),
                    keep(held, cuda.uploadFloats(floats(p.get("conv_qk_depthwise.bias")))),
                    keep(held, cuda.uploadFloats(CcaPrologueWeights.repackW1(floats(p.get("conv_qk_grouped.weight")), hq + hkv, d, k1))),
                    keep(held, cuda.uploadFloats(floats(p.get("conv_qk_grouped.bias")))),
                    keep(held, cuda.uploadFloats(floats(p.get("temp")))), k0, k1);
            DeviceBuffer z = keep(held, cuda.allocate((long) rows * c * 2)), y = keep(held, cuda.allocate((long) rows * dk * 2));
            DeviceBuffer q = keep(held, cuda.allocate(s.qElements() * 2)), k = keep(held, cuda.allocate(s.kvElements() * 2));
            DeviceBuffer o = keep(held, cuda.allocate(s.qElements() * 2)), lse = keep(held, cuda.allocate((long) batch * hq * tokens * 4));
            DeviceBuffer out = keep(held, cuda.allocate((long) rows * e * 2));
            cuda.poison(out);
            cuda.gemmNt(z, dx, wqk, rows, c, e);
            cuda.gemmNt(y, dx, wv, rows, dk, e);
            var rope = cfg.conv().rope();
            cuda.ccaPrologue(q, k, z, w, s, new CudaBackend.PrologueOptions(rope.rotaryDims(d), rope.base(),
                    cfg.conv().keyTemperature(), cfg.conv().normEps(), cfg.conv().qkMean()));
            if (hkv % 2 == 0) {
                cuda.flashForward(o, lse, q, k, y, s, true, hkv / 2);
            } else {
                DeviceBuffer v = keep(held, cuda.allocate(s.kvElements() * 2));
                cuda.valueShift(v, y, batch, tokens, dk);
                cuda.flashForward(o, lse, q, k, v, s, true, hkv);
            }
            cuda.gemmNt(out, o, wo, rows, e, hq * d);
            Err err = Err.of(Bf16.toDoubles(cuda.downloadBf16(out, rows * e)), want);
            // Five bf16 roundings of intermediates at ~2e-3 each, partly cancelling: 1e-2 is about twice what
            // they give together; a wrong conv tap, head mapping or shift gives O(1).
            record("check", "cca layer vs CPU " + cfg.nQHeads() + "q/" + hkv + "kv D" + d + " B" + batch + " T" + tokens,
                    err.rel() < 1e-2, err, Map.of());
        } finally {
            held.forEach(DeviceBuffer::close);
        }
    }

    /** {@link CudaCcaLayer}'s forward, dx and every parameter gradient against the float64 CPU layer. */
    private void checkLayerBackward(CcgqaConfig cfg, int batch, int tokens) {
        CudaCcaLayerCheck check = new CudaCcaLayerCheck(cfg, 11 + tokens);
        check.run(cuda, batch, tokens, 500 + tokens).forEach((what, x) -> record("check", "cca layer backward vs CPU "
                + check.describe() + " B" + batch + " T" + tokens + " " + what, x.err().rel() < CudaCcaLayerCheck.tolerance(what, x),
                x.err(), Map.of("gpuNoise", x.noise(), "tolerance", CudaCcaLayerCheck.tolerance(what, x))));
    }

    /** {@link CudaCcaLayer#decode} token by token from a zero state against the CPU layer's forward rows. */
    private void checkCcaDecodeLayer(CcgqaConfig cfg, int batch, int tokens) {
        CudaCcaLayerCheck check = new CudaCcaLayerCheck(cfg, 13 + tokens);
        Err err = check.decode(cuda, batch, tokens, 600 + tokens);
        record("check", "cca layer decode vs CPU forward rows " + check.describe() + " B" + batch + " T0.." + (tokens - 1),
                err.rel() < CudaCcaLayerCheck.FORWARD_TOLERANCE, err, Map.of());
    }

    /** The benchmark's MHA/GQA layer (no RoPE): forward, backward (dx, weight gradients) and a decode step vs the CPU. */
    private void checkGqaLayer(Variant v, int batch, int tokens) {
        var shape = new CudaBenchmarkRun.Shape(v.qHeads() * v.headDim(), v.qHeads(), v.kvHeads(), v.headDim(), null);
        String name = v.name() + " E" + shape.dModel() + " B" + batch + " T" + tokens;
        CudaBenchmarkRun.GqaLayer.check(cuda, shape, org.ccalab.common.run.Phase.BACKWARD, batch, tokens, 17)
                .forEach((what, err) -> record("check", "gqa layer backward vs CPU " + name + " " + what,
                        err.rel() < CudaCcaLayerCheck.tolerance(what), err, Map.of()));
        Err dec = CudaBenchmarkRun.GqaLayer.check(cuda, shape, org.ccalab.common.run.Phase.DECODE, batch, tokens, 18).get("out");
        record("check", "gqa layer decode step vs CPU " + name, dec.rel() < CudaCcaLayerCheck.FORWARD_TOLERANCE, dec, Map.of());
    }

    private static double[] concat(double[] a, double[] b) {
        double[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    private void checkFlash(AttentionKernel ref, Variant v, int batch, int tokens, boolean causal) {
        FlashCheck c = flashForwardCheck(ref, v, batch, tokens, causal);
        // bf16 output rounding alone gives ~2e-3 relative; fp32 accumulation with bf16 probabilities adds about as much.
        boolean ok = c.out().rel() < 8e-3 && c.lseMaxAbs() < 1e-3;
        record("check", "flash_fwd " + v.name() + " B" + batch + " T" + tokens + (causal ? " causal" : ""), ok, c.out(),
                Map.of("lseMaxAbsError", c.lseMaxAbs()));
    }

    /** The forward's output error and LSE max abs error against the float64 CPU kernel on the same bf16 inputs. */
    record FlashCheck(Err out, double lseMaxAbs) {}

    FlashCheck flashForwardCheck(AttentionKernel ref, Variant v, int batch, int tokens, boolean causal) {
        AttentionShape s = new AttentionShape(batch, tokens, v.qHeads(), v.kvHeads(), v.headDim());
        double[] q = Random.doubles(s.qElements(), 11 + tokens), k = Random.doubles(s.kvElements(), 12 + tokens),
                vv = Random.doubles(s.kvElements(), 13 + tokens);
        // The reference sees exactly the bf16-rounded inputs the GPU sees.
        short[] qb = Bf16.fromDoubles(q), kb = Bf16.fromDoubles(k), vb = Bf16.fromDoubles(vv);
        double[] o = new double[q.length], lse = new double[batch * v.qHeads() * tokens];
        ref.forward(o, lse, Bf16.toDoubles(qb), Bf16.toDoubles(kb), Bf16.toDoubles(vb), new AttentionKernel.Dims(batch,
                tokens, v.qHeads(), v.kvHeads(), v.headDim(), v.headDim(), 1.0 / Math.sqrt(v.headDim()), causal));
        try (DeviceBuffer dq = cuda.uploadBf16(qb); DeviceBuffer dk = cuda.uploadBf16(kb); DeviceBuffer dv = cuda.uploadBf16(vb);
             DeviceBuffer dout = cuda.allocate(s.qElements() * 2); DeviceBuffer dl = cuda.allocate(lse.length * 4L)) {
            cuda.poison(dout);
            cuda.poison(dl);
            cuda.flashForward(dout, dl, dq, dk, dv, s, causal, v.kvHeads());
            double[] got = Bf16.toDoubles(cuda.downloadBf16(dout, q.length));
            float[] gotLse = cuda.downloadFloats(dl, lse.length);
            Err e = Err.of(got, o);
            double lseErr = 0;
            for (int i = 0; i < lse.length; i++) lseErr = Math.max(lseErr, Double.isNaN(gotLse[i]) ? 1e9 : Math.abs(gotLse[i] - lse[i]));
            return new FlashCheck(e, lseErr);
        }
    }

    private void checkDecode(AttentionKernel ref, Variant v, int batch, int length, int capacity) {
        Err[] e = decodeErrors(ref, v, batch, length, capacity);
        record("check", "decode " + v.name() + " B" + batch + " L" + length + " cap" + capacity, e[0].rel() < 8e-3, e[0], Map.of());
        record("check", "decode == last prefill row " + v.name(), e[1].rel() < 8e-3, e[1], Map.of());
    }

    /** Decode of the last prefill row: {error vs the float64 CPU kernel, difference from the GPU prefill's row}. */
    Err[] decodeErrors(AttentionKernel ref, Variant v, int batch, int length, int capacity) {
        return decodeErrors(ref, v, batch, length, capacity, 0, (o, q, k, vc) -> cuda.decode(o, q, k, vc, batch, length,
                capacity, v.qHeads(), v.kvHeads(), v.headDim()));
    }

    /** One decode launch over the uploaded q [B, Hq, D] and caches [B, capacity, Hkv, D] into o. */
    interface DecodeCall {
        void run(DeviceBuffer o, DeviceBuffer q, DeviceBuffer kCache, DeviceBuffer vCache);
    }

    /** decodeErrors with the decode launch given (a forced split count or merge) and inputs drawn from {@code seed}. */
    Err[] decodeErrors(AttentionKernel ref, Variant v, int batch, int length, int capacity, long seed, DecodeCall call) {
        AttentionShape cache = new AttentionShape(batch, capacity, v.qHeads(), v.kvHeads(), v.headDim());
        AttentionShape pre = new AttentionShape(batch, length, v.qHeads(), v.kvHeads(), v.headDim());
        int d = v.headDim();
        short[] qAll = Bf16.fromDoubles(Random.doubles(pre.qElements(), 21 + 3 * seed));
        short[] kc = Bf16.fromDoubles(Random.doubles(cache.kvElements(), 22 + 3 * seed));
        short[] vc = Bf16.fromDoubles(Random.doubles(cache.kvElements(), 23 + 3 * seed));
        // The decode query is the last prefill row: then decode == prefill's last row, and both == the reference.
        short[] qLast = new short[batch * v.qHeads() * d];
        short[] kPre = new short[(int) pre.kvElements()], vPre = new short[(int) pre.kvElements()];
        int rowKv = v.kvHeads() * d, rowQ = v.qHeads() * d;
        for (int b = 0; b < batch; b++) {
            System.arraycopy(qAll, (b * length + length - 1) * rowQ, qLast, b * rowQ, rowQ);
            System.arraycopy(kc, b * capacity * rowKv, kPre, b * length * rowKv, length * rowKv);
            System.arraycopy(vc, b * capacity * rowKv, vPre, b * length * rowKv, length * rowKv);
        }
        // The float64 CPU decode of the last row (O(L); the whole causal prefill on the CPU is O(L^2): minutes at 16k).
        double[] want = new double[qLast.length];
        ref.decode(want, Bf16.toDoubles(qLast), Bf16.toDoubles(kc), Bf16.toDoubles(vc), capacity, length, batch, v.qHeads(),
                v.kvHeads(), d, d, 1.0 / Math.sqrt(d));
        try (DeviceBuffer dq = cuda.uploadBf16(qLast); DeviceBuffer dk = cuda.uploadBf16(kc); DeviceBuffer dv = cuda.uploadBf16(vc);
             DeviceBuffer dout = cuda.allocate(qLast.length * 2L); DeviceBuffer dqa = cuda.uploadBf16(qAll);
             DeviceBuffer dkp = cuda.uploadBf16(kPre); DeviceBuffer dvp = cuda.uploadBf16(vPre);
             DeviceBuffer dpre = cuda.allocate(pre.qElements() * 2); DeviceBuffer dl = cuda.allocate((long) batch * v.qHeads() * length * 4)) {
            cuda.poison(dout);
            call.run(dout, dq, dk, dv);
            double[] got = Bf16.toDoubles(cuda.downloadBf16(dout, qLast.length));
            Err e = Err.of(got, want);
            cuda.flashForward(dpre, dl, dqa, dkp, dvp, pre, true, v.kvHeads());
            double[] preOut = Bf16.toDoubles(cuda.downloadBf16(dpre, qAll.length));
            double[] preLast = new double[qLast.length];
            for (int b = 0; b < batch; b++) System.arraycopy(preOut, (b * length + length - 1) * rowQ, preLast, b * rowQ, rowQ);
            return new Err[] {e, Err.of(got, preLast)};
        }
    }

    private void checkBackward(AttentionKernel ref, Variant v, int batch, int tokens, boolean causal) {
        String name = "flash_bwd " + v.name() + " B" + batch + " T" + tokens + (causal ? " causal" : "");
        // bf16 probabilities and dS in the MMAs: PyTorch's bf16 attention lands at ~1.7e-3 (run 9).
        backwardErrors(ref, v, batch, tokens, causal).forEach((grad, err) -> record("check", name + " " + grad,
                err.rel() < 8e-3, err, Map.of()));
    }

    /** dq, dk, dv of the GPU backward against the CPU backward (float64) on the same bf16 inputs and dO. */
    Map<String, Err> backwardErrors(AttentionKernel ref, Variant v, int batch, int tokens, boolean causal) {
        AttentionShape s = new AttentionShape(batch, tokens, v.qHeads(), v.kvHeads(), v.headDim());
        short[] qb = Random.bf16(s.qElements(), 51), kb = Random.bf16(s.kvElements(), 52), vb = Random.bf16(s.kvElements(), 53);
        short[] gb = Random.bf16(s.qElements(), 54);
        var dims = new AttentionKernel.Dims(batch, tokens, v.qHeads(), v.kvHeads(), v.headDim(), v.headDim(),
                1.0 / Math.sqrt(v.headDim()), causal);
        try (DeviceBuffer q = cuda.uploadBf16(qb); DeviceBuffer k = cuda.uploadBf16(kb); DeviceBuffer vv = cuda.uploadBf16(vb);
             DeviceBuffer g = cuda.uploadBf16(gb); DeviceBuffer o = cuda.allocate(s.qElements() * 2);
             DeviceBuffer lse = cuda.allocate((long) batch * v.qHeads() * tokens * 4);
             DeviceBuffer dq = cuda.allocate(s.qElements() * 4); DeviceBuffer dk = cuda.allocate(s.kvElements() * 4);
             DeviceBuffer dv = cuda.allocate(s.kvElements() * 4)) {
            cuda.flashForward(o, lse, q, k, vv, s, causal, v.kvHeads());
            // The reference backward uses the GPU's own (bf16) forward output and LSE, as the kernel does.
            double[] oRef = Bf16.toDoubles(cuda.downloadBf16(o, (int) s.qElements()));
            double[] lseRef = cuda.downloadDoubles(lse, batch * v.qHeads() * tokens);
            double[] wq = new double[(int) s.qElements()], wk = new double[(int) s.kvElements()], wv = new double[(int) s.kvElements()];
            ref.backward(wq, wk, wv, Bf16.toDoubles(gb), Bf16.toDoubles(qb), Bf16.toDoubles(kb), Bf16.toDoubles(vb), oRef,
                    lseRef, dims);
            cuda.flashBackward(dq, dk, dv, q, k, vv, o, lse, g, s, causal);
            return gradientErrors(dq, wq, dk, wk, dv, wv);
        }
    }

    /** The fp32 device gradients dq, dk, dv against the float64 reference's wq, wk, wv, by name. */
    private Map<String, Err> gradientErrors(DeviceBuffer dq, double[] wq, DeviceBuffer dk, double[] wk, DeviceBuffer dv,
                                            double[] wv) {
        Map<String, Err> errors = new LinkedHashMap<>();
        errors.put("dq", Err.of(cuda.downloadDoubles(dq, wq.length), wq));
        errors.put("dk", Err.of(cuda.downloadDoubles(dk, wk.length), wk));
        errors.put("dv", Err.of(cuda.downloadDoubles(dv, wv.length), wv));
        return errors;
    }

    private void checkGemm(int m, int n, int k) {
        short[] a = Bf16.fromDoubles(Random.doubles((long) m * k, 31)), b = Bf16.fromDoubles(Random.doubles((long) n * k, 32));
        double[] ad = Bf16.toDoubles(a), bd = Bf16.toDoubles(b), want = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) acc += ad[i * k + p] * bd[j * k + p];
                want[i * n + j] = acc;
            }
        try (DeviceBuffer da = cuda.uploadBf16(a); DeviceBuffer db = cuda.uploadBf16(b); DeviceBuffer dc = cuda.allocate((long) m * n * 2)) {
            cuda.poison(dc);
            cuda.gemmNt(dc, da, db, m, n, k);
            Err e = Err.of(Bf16.toDoubles(cuda.downloadBf16(dc, m * n)), want);
            record("check", "gemm_nt " + m + "x" + n + "x" + k, e.rel() < 5e-3, e, Map.of());
        }
    }

    void record(String phase, String name, boolean ok, Err e, Map<String, Object> extra) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("phase", phase);
        c.put("case", name);
        c.put("ok", ok);
        c.put("maxAbsError", e.maxAbs());
        c.put("relError", e.rel());
        c.putAll(extra);
        cells.add(c);
        if (!ok) checksFailed = true;
        System.out.printf(Locale.ROOT, "%s %s: rel %.2e max abs %.2e%n", ok ? "PASS" : "FAIL", name, e.rel(), e.maxAbs());
    }

    // ---------------------------------------------------------------- timing

    /**
     * Median/p10/p90 ms of {@code body(i)}, i alternating input sets. Each sample times {@code inner} calls
     * back to back and divides: one call per event pair measured the host's launch cost (JCuda, FFM) as device
     * idle time on kernels under ~0.1 ms (run 3: a 58 us GEMM read 87 us).
     */
    Stats time(java.util.function.IntConsumer body) {
        for (int i = 0; i < 3; i++) body.accept(i);
        cuda.synchronize();
        double[] ms = new double[reps];
        try (CudaDevice.Timer t = cuda.device().new Timer()) {
            t.start();
            body.accept(0);
            double once = t.stopMillis();
            int inner = (int) Math.max(1, Math.min(20, Math.ceil(1.0 / Math.max(once, 1e-3))));
            for (int r = 0; r < reps; r++) {
                t.start();
                for (int k = 0; k < inner; k++) body.accept(r * inner + k);
                ms[r] = t.stopMillis() / inner;
            }
        }
        Arrays.sort(ms);
        return new Stats(ms[reps / 10], ms[reps / 2], ms[Math.min(reps - 1, reps * 9 / 10)]);
    }

    record Stats(double p10, double p50, double p90) {}

    /**
     * As {@link #time}, over replays of one CUDA graph of {@link GraphTiming#CALLS} calls: the kernels' own time,
     * without the host's launch gaps; null (said in the table) where the body cannot be captured.
     */
    Stats timeGraph(java.util.function.IntConsumer body) {
        double[] ms = GraphTiming.time(cuda.device(), 3, reps, body);
        if (ms == null) {
            table.add("  (no graph timing: the body could not be captured)");
            return null;
        }
        return new Stats(ms[0], ms[1], ms[2]);
    }

    /**
     * The attention core at each length, causal and not: forward for every variant, backward (every head dim: 64,
     * 128, 256) up to 16k. FLOPs: 4 B H T^2 D, half of it causal; backward 2.5x forward.
     */
    void core(int[] seqs) {
        table.add("== attention core, batch 1 (ms p50, TFLOP/s) ==");
        for (Variant v : VARIANTS)
            for (int t : seqs)
                for (boolean causal : new boolean[] {true, false}) {
                    AttentionShape s = new AttentionShape(1, t, v.qHeads(), v.kvHeads(), v.headDim());
                    double flops = causal ? s.causalForwardFlops() : 2 * s.causalForwardFlops();
                    String tag = causal ? "" : " non-causal";
                    DeviceBuffer[] q = {randomBf16(s.qElements(), 1), randomBf16(s.qElements(), 2)};
                    DeviceBuffer[] k = {randomBf16(s.kvElements(), 3), randomBf16(s.kvElements(), 4)};
                    DeviceBuffer[] vv = {randomBf16(s.kvElements(), 5), randomBf16(s.kvElements(), 6)};
                    try (DeviceBuffer o = cuda.allocate(s.qElements() * 2); DeviceBuffer l = cuda.allocate((long) s.qHeads() * t * 4)) {
                        Stats st = time(i -> cuda.flashForward(o, l, q[i & 1], k[i & 1], vv[i & 1], s, causal, v.kvHeads()));
                        double tf = flops / (st.p50() * 1e-3) / 1e12;
                        cell("forward", "core", v, t, 1, st, tf, 0, kvBytesPerToken(v), causal);
                        table.add(String.format(Locale.ROOT, "%22s T=%6d: %8.3f ms %5.0f TF%s", v.name(), t, st.p50(), tf, tag));
                        if (t <= 16384 && s.hasBackward()) {
                            try (DeviceBuffer g = randomBf16(s.qElements(), 7); DeviceBuffer dq = cuda.allocate(s.qElements() * 4);
                                 DeviceBuffer dk = cuda.allocate(s.kvElements() * 4); DeviceBuffer dv = cuda.allocate(s.kvElements() * 4)) {
                                cuda.flashForward(o, l, q[0], k[0], vv[0], s, causal, v.kvHeads());
                                Stats bw = time(i -> cuda.flashBackward(dq, dk, dv, q[0], k[0], vv[0], o, l, g, s, causal));
                                double btf = 2.5 * flops / (bw.p50() * 1e-3) / 1e12;
                                cell("backward", "core", v, t, 1, bw, btf, 0, kvBytesPerToken(v), causal);
                                table.add(String.format(Locale.ROOT, "%22s T=%6d: %8.3f ms %5.0f TF (backward%s)", v.name(), t,
                                        bw.p50(), btf, tag));
                            }
                        }
                    } finally {
                        closeAll(q);
                        closeAll(k);
                        closeAll(vv);
                    }
                }
    }

    /**
     * The MLA prefill core (causal, batch 1) at d_qk 192 / d_v 128 ({@link #MLA}), head dim 64's 128 / 64 (padded) and
     * 96 / 64 on its own kernels and padded.
     */
    void mlaCore(int[] seqs) {
        table.add("== MLA prefill core forward and backward, causal, batch 1, 16 heads, d_qk / d_v 192 / 128, 128 / 64 and"
                + " 96 / 64 (its own kernels, then padded) (ms p50, TFLOP/s of the unpadded work) ==");
        CudaMla rule = new CudaMla(cuda);
        // 96 / 64 twice: on its own kernels, then padded onto the flash kernels (head dim 128: the rule's choice on
        // the sm_90a image)
        List<MlaConfig> configs = List.of(MLA.get(0), MLA_HEAD64, MLA_96, MLA_96);
        for (int ci = 0; ci < configs.size(); ci++) {
            MlaConfig c = configs.get(ci);
            CudaMla mla = ci < 2 ? rule : rule.withCorePath(ci == 2 ? CudaMla.CorePath.OWN : CudaMla.CorePath.PADDED);
            for (int t : seqs) {
                long rows = (long) t * c.nHeads();
                DeviceBuffer[] q = {randomBf16(rows * c.qkHeadDim(), 1), randomBf16(rows * c.qkHeadDim(), 2)};
                DeviceBuffer[] k = {randomBf16(rows * c.qkHeadDim(), 3), randomBf16(rows * c.qkHeadDim(), 4)};
                DeviceBuffer[] v = {randomBf16(rows * c.vHeadDim(), 5), randomBf16(rows * c.vHeadDim(), 6)};
                try (DeviceBuffer o = cuda.allocate(rows * c.vHeadDim() * 2); DeviceBuffer l = cuda.allocate(rows * 4)) {
                    double scale = 1 / Math.sqrt(c.qkHeadDim());
                    Stats st = time(i -> mla.forward(o, l, q[i & 1], k[i & 1], v[i & 1], 1, t, c.nHeads(), c.qkHeadDim(), c.vHeadDim(),
                            true, scale));
                    double tf = CudaMlaBenchmark.flops(org.ccalab.common.run.Phase.FORWARD, org.ccalab.common.run.Scope.CORE,
                            CostModel.estimate(c, t, 2), c, t, true) / (st.p50() * 1e-3) / 1e12;
                    mlaCell("forward", "core", c, t, 1, st, tf, 0);
                    String fwdKernel = mla.coreKernel(c.qkHeadDim(), c.vHeadDim(), true, false);
                    cells.getLast().put("kernels", fwdKernel);
                    table.add(String.format(Locale.ROOT, "%22s T=%6d: %8.3f ms %5.0f TF (%s)", mlaName(c), t, st.p50(), tf,
                            fwdKernel));
                    if (t <= 16384) {  // the core backward (mla_bwd), 2.5x the forward's FLOPs
                        try (DeviceBuffer g = randomBf16(rows * c.vHeadDim(), 11); DeviceBuffer dq = cuda.allocate(rows * c.qkHeadDim() * 4);
                             DeviceBuffer dk = cuda.allocate(rows * c.qkHeadDim() * 4); DeviceBuffer dv = cuda.allocate(rows * c.vHeadDim() * 4)) {
                            mla.forward(o, l, q[0], k[0], v[0], 1, t, c.nHeads(), c.qkHeadDim(), c.vHeadDim(), true, scale);
                            Stats bw = time(i -> mla.backward(dq, dk, dv, q[0], k[0], v[0], o, l, g, 1, t, c.nHeads(), c.qkHeadDim(),
                                    c.vHeadDim(), true, scale));
                            double btf = 2.5 * tf * st.p50() / bw.p50();
                            mlaCell("backward", "core", c, t, 1, bw, btf, 0);
                            String bwdKernel = mla.coreKernel(c.qkHeadDim(), c.vHeadDim(), true, true);
                            cells.getLast().put("kernels", bwdKernel);
                            table.add(String.format(Locale.ROOT, "%22s T=%6d: %8.3f ms %5.0f TF (%s)", mlaName(c), t, bw.p50(), btf,
                                    bwdKernel));
                        }
                    }
                } finally {
                    closeAll(q);
                    closeAll(k);
                    closeAll(v);
                }
            }
        }
    }

    /** Absorbed MLA decode (decode + combine) over a random latent cache: cache bytes read per second. */
    void mlaDecode() {
        table.add("== MLA absorbed decode, one token, 16 heads (latent cache bytes read / s; L2-cold: rotated input sets) ==");
        copyBandwidth();
        int[][] cases = {{1, 4096}, {1, 16384}, {1, 32768}, {1, 65536}, {8, 16384}, {32, 16384}, {8, 65536}};
        CudaMla mla = new CudaMla(cuda);
        for (MlaConfig c : java.util.stream.Stream.concat(MLA.stream(), java.util.stream.Stream.of(MLA_HEAD64)).toList())
            for (int[] cs : cases) {
                int b = cs[0], len = cs[1], h = c.nHeads(), r = c.kvLoraRank(), dr = c.qkRopeHeadDim();
                long kv = CostModel.kvCacheBytesPerToken(c, 2);
                List<DeviceBuffer[]> sets = coldSets(i -> new DeviceBuffer[] {randomBf16((long) b * len * (r + dr), 7 + 2L * i),
                        randomBf16((long) b * h * (r + dr), 8 + 2L * i)});
                try (DeviceBuffer o = cuda.allocate((long) b * h * r * 4)) {
                    double scale = 1 / Math.sqrt(c.qkHeadDim());
                    java.util.function.IntConsumer step = i -> {
                        DeviceBuffer[] in = sets.get(i % sets.size());
                        mla.decode(o, in[1], in[0], b, len, len, h, r, dr, scale);
                    };
                    Stats eager = time(step), graph = timeGraph(step);
                    double bytes = (double) b * len * kv;
                    Stats st = graph != null ? graph : eager;  // as the attention decode: the graph replay's time
                    mlaCell("decode", "core", c, len, b, st, 0, bytes / (st.p50() * 1e-3));
                    cells.getLast().put("timing", graph != null ? "graph" : "eager");
                    cells.getLast().put("eagerP50Ms", eager.p50());
                    cells.getLast().put("kernels", mla.decodeKernels(b, h, len, r, dr));
                    String line = String.format(Locale.ROOT, "B=%2d L=%6d %s: eager %8.1f us %5.2f TB/s", b, len, mlaName(c),
                            eager.p50() * 1e3, bytes / (eager.p50() * 1e-3) / 1e12);
                    if (graph != null)
                        line += String.format(Locale.ROOT, " | graph %8.1f us %5.2f TB/s", graph.p50() * 1e3,
                                bytes / (graph.p50() * 1e-3) / 1e12);
                    table.add(line + ofCopy(bytes / (st.p50() * 1e-3)));
                    var inst = mla.decodeInstance(r, dr);
                    if (inst.any() && b * CudaMlaKernels.ceil(h, CudaMlaKernels.DECODE_HEADS_PER_BLOCK) < cuda.multiprocessors()) {
                        // a padded ring fits 2-4 blocks per SM; the split rule takes one per SM only where that fuses
                        // the merge (session 13, call 6): one split per SM timed beside it re-checks that on each device
                        int groups = b * CudaMlaKernels.ceil(h, CudaMlaKernels.DECODE_HEADS_PER_BLOCK);
                        var one = CudaMlaKernels.forcedDecodeSplit(len, inst, cuda.multiprocessors() / groups);
                        Stats g1 = timeGraph(i -> {
                            DeviceBuffer[] in = sets.get(i % sets.size());
                            mla.decode(o, in[1], in[0], b, len, len, h, r, dr, scale, inst, one, null);
                        });
                        if (g1 != null)
                            table.add(String.format(Locale.ROOT, "      the same with %d splits (one per SM; the rule: %d): graph"
                                    + " %8.1f us %5.2f TB/s (%3.0f %% of copy)", one.splits(), CudaMlaKernels.decodeSplit(b, h, len,
                                    inst, cuda.multiprocessors(), mla.limits().smemPerMultiprocessor()).splits(), g1.p50() * 1e3,
                                    bytes / (g1.p50() * 1e-3) / 1e12, 100 * bytes / (g1.p50() * 1e-3) / (copyBandwidth() * 1e12)));
                    }
                } finally {
                    sets.forEach(CudaBenchCli::closeAll);
                }
            }
    }

    /**
     * Whole MLA layers at E = 2048, batch 1: causal prefill, one decode step after seqLen cached tokens and, up to 16k,
     * the layer backward after a training forward ({@link CudaMlaLayer#backward}: TFLOP/s, bytes/s and the pool's
     * peak in CudaMlaBenchmark's conventions; its error vs float64 is the check phase's).
     */
    void mlaLayers(int[] seqs) {
        table.add("== MLA layer, E=2048, batch 1: causal prefill (ms p50), one decode step after T tokens (us p50), layer"
                + " backward (ms p50, TFLOP/s) ==");
        for (MlaConfig c : MLA)
            for (int t : seqs) {
                Map<String, double[]> p = CudaMlaBenchmark.randomParameters(c, 30);
                try (CudaMlaLayer layer = new CudaMlaLayer(cuda, c, p, 1, t + 1);
                     DeviceBuffer x0 = randomBf16((long) t * E, 31); DeviceBuffer x1 = randomBf16((long) t * E, 32);
                     DeviceBuffer y = cuda.allocate((long) t * E * 2); DeviceBuffer yt = cuda.allocate(E * 2L)) {
                    DeviceBuffer[] x = {x0, x1};
                    Stats pre = time(i -> layer.prefill(y, x[i & 1], t));
                    mlaCell("forward", "layer", c, t, 1, pre, (double) CostModel.prefillFlopsCausal(c, t) / (pre.p50() * 1e-3) / 1e12, 0);
                    layer.prefill(y, x0, t);
                    Stats dec = time(i -> {
                        layer.assumeCached(t);
                        layer.decode(yt, x0);
                    });
                    mlaCell("decode", "layer", c, t, 1, dec, 0, (double) t * CostModel.kvCacheBytesPerToken(c, 2) / (dec.p50() * 1e-3));
                    String line = String.format(Locale.ROOT, "%22s T=%6d: prefill %8.3f ms, decode step %8.1f us", mlaName(c), t,
                            pre.p50(), dec.p50() * 1e3);
                    if (t <= 16384) {
                        try (DeviceBuffer g = randomBf16((long) t * E, 33); DeviceBuffer dx = cuda.allocate((long) t * E * 2)) {
                            cuda.device().pool().resetPeak();
                            layer.forward(y, x0, t);
                            Stats bw = time(i -> layer.backward(dx, g));
                            long peak = cuda.device().pool().peakLiveBytes();
                            var cost = CostModel.estimate(c, t, 2);
                            double tf = CudaMlaBenchmark.flops(org.ccalab.common.run.Phase.BACKWARD, org.ccalab.common.run.Scope.LAYER,
                                    cost, c, t, true) / (bw.p50() * 1e-3) / 1e12;
                            double bps = CudaMlaBenchmark.bytes(org.ccalab.common.run.Phase.BACKWARD, org.ccalab.common.run.Scope.LAYER, c,
                                    t, CostModel.kvCacheBytesPerToken(c, 2)) / (bw.p50() * 1e-3);
                            mlaCell("backward", "layer", c, t, 1, bw, tf, bps);
                            cells.getLast().put("peakMemoryBytes", peak);
                            line += String.format(Locale.ROOT, ", backward %8.3f ms %5.0f TF (p10 %.3f p90 %.3f, peak %.2f GB)",
                                    bw.p50(), tf, bw.p10(), bw.p90(), peak / 1e9);
                        }
                    }
                    table.add(line);
                }
            }
    }

    private static String mlaName(MlaConfig c) {
        return "MLA " + c.nHeads() + "h r_kv " + c.kvLoraRank();
    }

    private void mlaCell(String phase, String scope, MlaConfig c, int seq, int batch, Stats st, double tflops, double bytesPerS) {
        Map<String, Object> m = baseCell(phase, scope, seq, batch, st);
        m.put("variant", mlaName(c));
        m.put("family", "mla");
        m.put("qHeads", c.nHeads());
        m.put("kvLoraRank", c.kvLoraRank());
        m.put("qkHeadDim", c.qkHeadDim());
        m.put("vHeadDim", c.vHeadDim());
        m.put("tflops", tflops);
        m.put("bytesPerS", bytesPerS);
        m.put("kvBytesPerToken", CostModel.kvCacheBytesPerToken(c, 2));
        cells.add(m);
    }

    /** The device's copy bandwidth (TB/s, read + write), measured once per CLI run: the decode target's reference. */
    private double copyTBs;

    /**
     * Read + write bytes per second of a 1 GiB device-to-device copy (cuMemcpyDtoDAsync, the median of {@link #time}),
     * the "measured copy bandwidth" issue 5's decode target is a fraction of (PyTorch's 2 GiB bf16 copy_ in
     * bench/side_by_side.py measures the same: 2.43 TB/s on the H100 in sessions 4-12). Printed once per run.
     */
    double copyBandwidth() {
        if (copyTBs > 0) return copyTBs;
        long bytes = 1L << 30;
        try (DeviceBuffer a = cuda.allocate(bytes); DeviceBuffer b = cuda.allocate(bytes)) {
            Stats st = time(i -> jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync((i & 1) == 0 ? b.pointer() : a.pointer(),
                    (i & 1) == 0 ? a.pointer() : b.pointer(), bytes, cuda.device().stream()));
            copyTBs = 2.0 * bytes / (st.p50() * 1e-3) / 1e12;
        }
        table.add(String.format(Locale.ROOT, "device copy (1 GiB device to device, read + write): %.3f TB/s: decode's %% below"
                + " is of this", copyTBs));
        cells.add(new java.util.LinkedHashMap<>(Map.of("phase", "copy", "bytesPerSecond", copyTBs * 1e12)));
        return copyTBs;
    }

    /** A decode line's graph figure as a share of the copy bandwidth, and the cell's copyFraction. */
    private String ofCopy(double bytesPerSecond) {
        Map<String, Object> cell = cells.getLast();
        double f = bytesPerSecond / (copyBandwidth() * 1e12);
        cell.put("copyFraction", f);
        return String.format(Locale.ROOT, " (%3.0f %% of copy)", 100 * f);
    }

    /**
     * Input sets for a decode timing: set 0, then as many more as keep every call L2-cold ({@link
     * GraphTiming#coldCopies} of set 0's bytes); the body rotates over them by call index.
     */
    private List<DeviceBuffer[]> coldSets(java.util.function.IntFunction<DeviceBuffer[]> make) {
        List<DeviceBuffer[]> sets = new ArrayList<>();
        sets.add(make.apply(0));
        long bytes = 0;
        for (DeviceBuffer buf : sets.getFirst()) bytes += buf.bytes();
        for (int i = 1, n = GraphTiming.coldCopies(bytes); i < n; i++) sets.add(make.apply(i));
        return sets;
    }

    void decode() {
        table.add("== decode, one token over a bf16 KV cache (KV bytes read / s; L2-cold: rotated input sets) ==");
        copyBandwidth();
        // {batch, length, query heads, KV heads, head dim}: D = 128 shapes, then the paper grid's batch-1 heads at
        // E = 2048 for head dims 256 and 64 (MHA, GQA-4, GQA-8)
        int[][] cases = {{1, 16384, 16, 16, 128}, {8, 16384, 16, 16, 128}, {8, 65536, 16, 16, 128}, {8, 16384, 16, 4, 128},
                         {8, 65536, 4, 4, 128}, {32, 16384, 8, 2, 128}, {1, 4096, 8, 2, 128}, {1, 4096, 16, 4, 128},
                         {1, 16384, 4, 4, 128}, {1, 16384, 16, 4, 128}, {1, 16384, 8, 2, 128}, {1, 65536, 8, 2, 128},
                         {1, 16384, 8, 8, 256}, {1, 4096, 8, 2, 256}, {1, 16384, 8, 2, 256}, {1, 65536, 8, 2, 256},
                         {1, 16384, 8, 1, 256}, {1, 16384, 32, 32, 64}, {1, 16384, 32, 8, 64}, {1, 16384, 32, 4, 64}};
        for (int[] c : cases) {
            int b = c[0], len = c[1], hq = c[2], hkv = c[3], d = c[4];
            AttentionShape s = new AttentionShape(b, len, hq, hkv, d);
            List<DeviceBuffer[]> sets = coldSets(i -> new DeviceBuffer[] {randomBf16((long) b * hq * d, 7 + 3L * i),
                    randomBf16(s.kvElements(), 8 + 3L * i), randomBf16(s.kvElements(), 9 + 3L * i)});
            try (DeviceBuffer o = cuda.allocate((long) b * hq * d * 2)) {
                java.util.function.IntConsumer step = i -> {
                    DeviceBuffer[] in = sets.get(i % sets.size());
                    cuda.decode(o, in[0], in[1], in[2], b, len, len, hq, hkv, d);
                };
                Stats eager = time(step), graph = timeGraph(step);
                double bytes = 2.0 * s.kvElements() * 2;
                Variant v = new Variant(hq + "q/" + hkv + "kv", hq == hkv ? "mha" : "gqa", hq, hkv, d);
                String line = String.format(Locale.ROOT, "B=%2d L=%6d %2dq/%2dkv D=%3d (%2d sets): eager %8.1f us %5.2f TB/s", b,
                        len, hq, hkv, d, sets.size(), eager.p50() * 1e3, bytes / (eager.p50() * 1e-3) / 1e12);
                // the cell carries the graph replay's time where there is one (the kernels' time), the eager one else
                Stats st = graph != null ? graph : eager;
                cell("decode", "core", v, len, b, st, 0, bytes / (st.p50() * 1e-3), kvBytesPerToken(v));
                cells.getLast().put("timing", graph != null ? "graph" : "eager");
                cells.getLast().put("eagerP50Ms", eager.p50());
                cells.getLast().put("inputSets", sets.size());
                if (graph != null)
                    line += String.format(Locale.ROOT, " | graph %8.1f us %5.2f TB/s", graph.p50() * 1e3,
                            bytes / (graph.p50() * 1e-3) / 1e12);
                table.add(line + ofCopy(bytes / (st.p50() * 1e-3)));
            } finally {
                sets.forEach(CudaBenchCli::closeAll);
            }
        }
    }

    void gemm() {
        table.add("== GEMM bf16 (cuBLAS via FFM), row-major [M,K] x [N,K]^T ==");
        int[][] shapes = {{16384, 6144, 2048}, {16384, 2048, 2048}, {16384, 1280, 2048}, {16384, 1024, 2048},
                          {16384, 512, 2048}, {16384, 2048, 1024}, {16384, 2048, 512}, {8192, 8192, 8192}};
        for (int[] sh : shapes) {
            int m = sh[0], n = sh[1], k = sh[2];
            DeviceBuffer[] a = {randomBf16((long) m * k, 13), randomBf16((long) m * k, 14)};
            DeviceBuffer[] b = {randomBf16((long) n * k, 15), randomBf16((long) n * k, 16)};
            try (DeviceBuffer c = cuda.allocate((long) m * n * 2)) {
                Stats st = time(i -> cuda.gemmNt(c, a[i & 1], b[i & 1], m, n, k));
                double tf = 2.0 * m * n * k / (st.p50() * 1e-3) / 1e12;
                Map<String, Object> cl = baseCell("gemm", "gemm", m, 1, st);
                cl.put("m", m);
                cl.put("n", n);
                cl.put("k", k);
                cl.put("tflops", tf);
                cells.add(cl);
                table.add(String.format(Locale.ROOT, "%5d x %5d x %5d: %7.3f ms %5.0f TF", m, n, k, st.p50(), tf));
            } finally {
                closeAll(a);
                closeAll(b);
            }
        }
    }

    void layers(int[] seqs) {
        table.add("== attention layer forward, E=2048, batch 1, causal (ms p50) ==");
        for (int t : seqs)
            for (Variant v : VARIANTS) {
                if (v.headDim() != 128) continue;
                boolean cc = v.family().startsWith("cc");
                int hq = v.qHeads(), hkv = v.kvHeads(), d = v.headDim();
                AttentionShape s = new AttentionShape(1, t, hq, hkv, d);
                List<DeviceBuffer> held = new ArrayList<>();
                DeviceBuffer[] x = {keep(held, randomBf16((long) t * E, 17)), keep(held, randomBf16((long) t * E, 18))};
                DeviceBuffer wo = keep(held, randomBf16((long) E * hq * d, 19));
                DeviceBuffer q = keep(held, cuda.allocate(s.qElements() * 2)), k = keep(held, cuda.allocate(s.kvElements() * 2));
                DeviceBuffer vv = keep(held, cuda.allocate(s.kvElements() * 2)), o = keep(held, cuda.allocate(s.qElements() * 2));
                DeviceBuffer lse = keep(held, cuda.allocate((long) hq * t * 4)), y = keep(held, cuda.allocate((long) t * E * 2));
                try {
                    Stats st;
                    if (!cc) {
                        DeviceBuffer wq = keep(held, randomBf16((long) hq * d * E, 20)), wk = keep(held, randomBf16((long) hkv * d * E, 21));
                        DeviceBuffer wv = keep(held, randomBf16((long) hkv * d * E, 22));
                        st = time(i -> {
                            cuda.gemmNt(q, x[i & 1], wq, t, hq * d, E);
                            cuda.gemmNt(k, x[i & 1], wk, t, hkv * d, E);
                            cuda.gemmNt(vv, x[i & 1], wv, t, hkv * d, E);
                            cuda.flashForward(o, lse, q, k, vv, s, true, hkv);
                            cuda.gemmNt(y, o, wo, t, E, hq * d);
                        });
                    } else {
                        int c = (hq + hkv) * d;
                        DeviceBuffer wqk = keep(held, randomBf16((long) c * E, 23)), wv = keep(held, randomBf16((long) hkv * d * E, 24));
                        DeviceBuffer z = keep(held, cuda.allocate((long) t * c * 2));
                        CcaPrologueWeights w = randomPrologueWeights(cuda, held, hq, hkv, d);
                        CudaBackend.PrologueOptions opt = new CudaBackend.PrologueOptions(d / 2, 10000.0, KeyTemperature.EXP, 1e-12, true);
                        boolean fusedShift = hkv % 2 == 0;
                        DeviceBuffer vs = fusedShift ? vv : keep(held, cuda.allocate(s.kvElements() * 2));
                        st = time(i -> {
                            cuda.gemmNt(z, x[i & 1], wqk, t, c, E);
                            cuda.gemmNt(vv, x[i & 1], wv, t, hkv * d, E);
                            cuda.ccaPrologue(q, k, z, w, s, opt);
                            if (!fusedShift) cuda.valueShift(vs, vv, 1, t, hkv * d);
                            cuda.flashForward(o, lse, q, k, vs, s, true, fusedShift ? hkv / 2 : hkv);
                            cuda.gemmNt(y, o, wo, t, E, hq * d);
                        });
                    }
                    cell("forward", "layer", v, t, 1, st, 0, 0, kvBytesPerToken(v));
                    table.add(String.format(Locale.ROOT, "%22s T=%6d: %8.3f ms", v.name(), t, st.p50()));
                } finally {
                    held.forEach(DeviceBuffer::close);
                }
            }
        layerBackward(seqs);
    }

    /**
     * Whole-layer backward from saved activations at E = 2048, batch 1, causal, up to 16k: MHA/GQA = o_proj GEMM
     * grads + flash backward + q/k/v GEMM grads ({@link CudaBenchmarkRun.GqaLayer}), CCA/CCGQA =
     * {@link CudaCcaLayer#backward} (k0 = k1 = 2, EXP temperature, half RoPE: bench/layer_backward.py's layer).
     * TFLOP/s in CostModel's conventions ({@link CudaBenchmarkRun#flops}).
     */
    void layerBackward(int[] seqs) {
        table.add("== attention layer backward, E=2048, batch 1, causal (ms p50, TFLOP/s) ==");
        for (int t : seqs) {
            if (t > 16384) continue;
            for (Variant v : VARIANTS) {
                if (v.headDim() != 128) continue;
                boolean cc = v.family().startsWith("cc");
                org.ccalab.common.variant.AttentionConfig cfg = switch (v.family()) {
                    case "mha" -> new org.ccalab.common.variant.MhaConfig(E, v.qHeads());
                    case "gqa" -> new org.ccalab.common.variant.GqaConfig(E, v.qHeads(), v.kvHeads());
                    default -> new CcgqaConfig(E, v.qHeads(), v.kvHeads(), v.headDim());
                };
                List<DeviceBuffer> held = new ArrayList<>();
                DeviceBuffer x = keep(held, randomBf16((long) t * E, 41)), g = keep(held, randomBf16((long) t * E, 42));
                DeviceBuffer out = keep(held, cuda.allocate((long) t * E * 2)), dx = keep(held, cuda.allocate((long) t * E * 2));
                try {
                    Stats st;
                    if (cc) {
                        CcgqaConfig c = (CcgqaConfig) cfg;
                        try (CudaCcaLayer layer = new CudaCcaLayer(cuda, c, new CudaCcaLayerCheck(c, 1).parameters(), 1, t)) {
                            layer.forward(out, x);
                            st = time(i -> layer.backward(dx, g));
                        }
                    } else {
                        var shape = CudaBenchmarkRun.Shape.of(cfg);
                        try (var layer = new CudaBenchmarkRun.GqaLayer(cuda, shape, CudaBenchmarkRun.GqaLayer.parameters(shape, 1), 1, t)) {
                            layer.forward(out, x);
                            st = time(i -> layer.backward(dx, g));
                        }
                    }
                    double tf = CudaBenchmarkRun.flops(cfg, org.ccalab.common.run.Phase.BACKWARD, org.ccalab.common.run.Scope.LAYER, t,
                            true) / (st.p50() * 1e-3) / 1e12;
                    cell("backward", "layer", v, t, 1, st, tf, 0, kvBytesPerToken(v));
                    table.add(String.format(Locale.ROOT, "%22s T=%6d: %8.3f ms %5.0f TF (layer backward)", v.name(), t, st.p50(), tf));
                } finally {
                    held.forEach(DeviceBuffer::close);
                }
            }
        }
    }

    /** Random CCA prologue weights with k0 = k1 = 2 (the layer phases' and the paper phase's), kept in {@code held}. */
    static CcaPrologueWeights randomPrologueWeights(CudaBackend cuda, List<DeviceBuffer> held, int hq, int hkv, int d) {
        int c = (hq + hkv) * d;
        return new CcaPrologueWeights(keep(held, cuda.uploadFloats(Random.floats(c * 2, 25, 0.5))),
                keep(held, cuda.uploadFloats(Random.floats(c, 26, 0.1))),
                keep(held, cuda.uploadFloats(CcaPrologueWeights.repackW1(Random.floats(c * d * 2, 27, 1 / Math.sqrt(2 * d)),
                        hq + hkv, d, 2))),
                keep(held, cuda.uploadFloats(Random.floats(c, 28, 0.1))),
                keep(held, cuda.uploadFloats(Random.floats(hkv, 29, 0.3))), 2, 2);
    }

    /** A row of the table printed at the end (phases kept in their own classes add theirs here). */
    void addRow(String row) {
        table.add(row);
    }

    /** A JSON cell of a phase kept in its own class. */
    void addCell(Map<String, Object> cell) {
        cells.add(cell);
    }

    /** A timing cell of {@link CudaPaperBenchmark}: latency only (the paper reports no TFLOP/s). */
    void paperCell(String phase, String scope, Variant v, int seq, Stats st, boolean causal) {
        cell(phase, scope, v, seq, 1, st, 0, 0, kvBytesPerToken(v), causal);
    }

    private static DeviceBuffer keep(List<DeviceBuffer> held, DeviceBuffer b) {
        held.add(b);
        return b;
    }

    private static long kvBytesPerToken(Variant v) {
        return 2L * v.kvHeads() * v.headDim() * 2;
    }

    private Map<String, Object> baseCell(String phase, String scope, int seq, int batch, Stats st) {
        return baseCell(phase, scope, seq, batch, st, true);
    }

    private Map<String, Object> baseCell(String phase, String scope, int seq, int batch, Stats st, boolean causal) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("phase", phase);
        c.put("scope", scope);
        c.put("causal", causal);
        c.put("batch", batch);
        c.put("seqLen", seq);
        c.put("dtype", "bf16");
        c.put("backend", "cuda");
        c.put("p10Ms", st.p10());
        c.put("p50Ms", st.p50());
        c.put("p90Ms", st.p90());
        return c;
    }

    private void cell(String phase, String scope, Variant v, int seq, int batch, Stats st, double tflops, double bytesPerS,
                      long kvBytesPerToken) {
        cell(phase, scope, v, seq, batch, st, tflops, bytesPerS, kvBytesPerToken, true);
    }

    private void cell(String phase, String scope, Variant v, int seq, int batch, Stats st, double tflops, double bytesPerS,
                      long kvBytesPerToken, boolean causal) {
        Map<String, Object> c = baseCell(phase, scope, seq, batch, st, causal);
        c.put("variant", v.name());
        c.put("family", v.family());
        c.put("qHeads", v.qHeads());
        c.put("kvHeads", v.kvHeads());
        c.put("headDim", v.headDim());
        c.put("tflops", tflops);
        c.put("bytesPerS", bytesPerS);
        c.put("kvBytesPerToken", kvBytesPerToken);
        cells.add(c);
    }

    private DeviceBuffer randomBf16(long n, long seed) {
        return cuda.uploadBf16(Random.bf16(n, seed));
    }

    private static void closeAll(DeviceBuffer[] bs) {
        for (DeviceBuffer b : bs) b.close();
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length)
                throw new IllegalArgumentException("expected --name value pairs, got " + String.join(" ", args));
            m.put(args[i].substring(2), args[++i]);
        }
        return m;
    }

    /** Relative Frobenius error and max absolute error; NaN anywhere (an unwritten output) is infinite error. */
    record Err(double rel, double maxAbs) {
        static Err of(double[] got, double[] want) {
            double num = 0, den = 0, max = 0;
            for (int i = 0; i < got.length; i++) {
                if (!Double.isFinite(got[i])) return new Err(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY);
                double d = got[i] - want[i];
                num += d * d;
                den += want[i] * want[i];
                max = Math.max(max, Math.abs(d));
            }
            return new Err(Math.sqrt(num / Math.max(den, 1e-300)), max);
        }
    }

    /** Fast deterministic inputs (xorshift), never zeros: uniform on [-sqrt 3, sqrt 3], unit variance. */
    static final class Random {
        static double[] doubles(long n, long seed) {
            double[] out = new double[Math.toIntExact(n)];
            long s = seed * 0x9E3779B97F4A7C15L + 1;
            for (int i = 0; i < out.length; i++) {
                s ^= s << 13;
                s ^= s >>> 7;
                s ^= s << 17;
                out[i] = ((s >>> 11) * 0x1.0p-53 * 2 - 1) * 1.7320508075688772;
            }
            return out;
        }

        static float[] floats(int n, long seed, double scale) {
            double[] d = doubles(n, seed);
            float[] f = new float[n];
            for (int i = 0; i < n; i++) f[i] = (float) (d[i] * scale);
            return f;
        }

        static short[] bf16(long n, long seed) {
            return Bf16.fromDoubles(doubles(n, seed));
        }
    }

    /** Minimal JSON for maps, lists, strings, numbers and booleans (keeps the bundle free of a JSON library). */
    static final class Json {
        static String write(Object o) {
            StringBuilder sb = new StringBuilder();
            write(sb, o, 0);
            return sb.append('\n').toString();
        }

        private static void write(StringBuilder sb, Object o, int indent) {
            switch (o) {
                case null -> sb.append("null");
                case Map<?, ?> m -> {
                    sb.append('{');
                    int i = 0;
                    for (var e : m.entrySet()) {
                        sb.append(i++ == 0 ? "\n" : ",\n").append(" ".repeat(indent + 1));
                        str(sb, String.valueOf(e.getKey()));
                        sb.append(": ");
                        write(sb, e.getValue(), indent + 1);
                    }
                    sb.append('\n').append(" ".repeat(indent)).append('}');
                }
                case List<?> l -> {
                    sb.append('[');
                    for (int i = 0; i < l.size(); i++) {
                        sb.append(i == 0 ? "\n" : ",\n").append(" ".repeat(indent + 1));
                        write(sb, l.get(i), indent + 1);
                    }
                    sb.append('\n').append(" ".repeat(indent)).append(']');
                }
                case Double d -> sb.append(Double.isFinite(d) ? d.toString() : "null");
                case Number n -> sb.append(n);
                case Boolean b -> sb.append(b);
                default -> str(sb, o.toString());
            }
        }

        private static void str(StringBuilder sb, String s) {
            sb.append('"');
            for (char c : s.toCharArray()) {
                if (c == '"' || c == '\\') sb.append('\\').append(c);
                else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                else sb.append(c);
            }
            sb.append('"');
        }
    }
}
