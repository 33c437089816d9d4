package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.CompressedConvSpec;
import org.ccalab.common.variant.KeyTemperature;
import org.ccalab.common.variant.RopeSpec;
import org.ccalab.engine.backend.cpu.AttentionKernel;
import org.ccalab.engine.backend.cpu.CpuBackend;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Err;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Random;
import org.ccalab.engine.backend.cuda.CudaBenchCli.Variant;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * On a GPU host (tag {@code gpu}) whose driver runs the sm_90a image: {@code ccalab.flash.deterministic=true} makes
 * the backward give the same bits on every run (the wgmma kernels; and since session 17 the mma.sync ones at head dims
 * 64 and 128, forced) (three runs compared element for element: dQ, dK, dV, GQA groups of
 * 4 and 8 where several query heads add into one KV head, causal and not, head dims 64, 128 and 256), while still
 * matching the CPU float64 backward within the 8e-3 bound of the other backward tests. (Refusals of what has no
 * deterministic kernel: DeterministicBackwardTest.)
 */
@Tag("gpu")
class CudaDeterministicBackwardGpuTest {
    /** {variant, batch, tokens, causal} at head dims 64 and 128: GQA groups of 4 and 8, MHA, causal and not. */
    private static final Object[][] CASES_64_128 = {{new Variant("GQA 8q/2kv", "gqa", 8, 2, 128), 1, 1000, true},
            {new Variant("GQA 8q/1kv", "gqa", 8, 1, 128), 2, 333, false},
            {new Variant("GQA 8q/2kv d64", "gqa", 8, 2, 64), 1, 1000, true},
            {new Variant("MHA 4x64", "mha", 4, 4, 64), 2, 700, false}};

    @Test
    void threeRunsGiveTheSameBitsAndMatchTheFloat64Reference() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
        AttentionKernel ref = CpuBackend.create().attention();
        List<String> failures = new ArrayList<>();
        try (CudaBackend cuda = openDeterministic()) {
            assertThat(cuda.deterministicBackward()).isTrue();
            assertThat(cuda.backwardVariant(new AttentionShape(1, 16, 4, 4, 128)))
                    .as("the deterministic kernels are the wgmma ones: this test needs the sm_90a image")
                    .isEqualTo(CudaKernels.BwdVariant.WGMMA);
            failures.addAll(checkCases(cuda, ref, "", CASES_64_128));
            failures.addAll(checkCases(cuda, ref, "", new Object[][] {{new Variant("GQA 8q/2kv d256", "gqa", 8, 2, 256), 1, 1000,
                    true}, {new Variant("MHA 4x256", "mha", 4, 4, 256), 2, 333, false}}));
        }
        assertThat(failures).isEmpty();
    }

    /**
     * The mma.sync backward's ordered-add instances (session 17: the kernel devices without the sm_90a image run),
     * forced here with ccalab.flash.backward=mma: GQA groups of 4 and 8, causal and not, head dims 64 and 128, within
     * the float64 bound and three runs bit for bit.
     */
    @Test
    void theMmaSyncBackwardThreeRunsGiveTheSameBitsAndMatchTheFloat64Reference() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
        AttentionKernel ref = CpuBackend.create().attention();
        List<String> failures = new ArrayList<>();
        String saved = System.getProperty("ccalab.flash.backward");
        System.setProperty("ccalab.flash.backward", "mma");
        try (CudaBackend cuda = openDeterministic()) {
            assertThat(cuda.backwardVariant(new AttentionShape(1, 16, 4, 4, 128))).isEqualTo(CudaKernels.BwdVariant.MMA);
            failures.addAll(checkCases(cuda, ref, "mma.sync ", CASES_64_128));
        } finally {
            if (saved == null) System.clearProperty("ccalab.flash.backward");
            else System.setProperty("ccalab.flash.backward", saved);
        }
        assertThat(failures).isEmpty();
    }

    /**
     * Each case {variant, batch, tokens, causal} on {@code cuda}'s deterministic backward: dq, dk, dv within the 8e-3
     * float64 bound, and three runs bit for bit. The failures, each named with {@code label}.
     */
    private static List<String> checkCases(CudaBackend cuda, AttentionKernel ref, String label, Object[][] cases) {
        List<String> failures = new ArrayList<>();
        CudaBenchCli cli = new CudaBenchCli(cuda, 3);
        for (Object[] c : cases) {
            Variant v = (Variant) c[0];
            int batch = (int) c[1], tokens = (int) c[2];
            boolean causal = (boolean) c[3];
            String name = label + v.name() + " B" + batch + " T" + tokens + " causal=" + causal;
            Map<String, Err> errors = cli.backwardErrors(ref, v, batch, tokens, causal);
            System.out.printf("deterministic %s: dq %.2e dk %.2e dv %.2e%n", name, errors.get("dq").rel(),
                    errors.get("dk").rel(), errors.get("dv").rel());
            for (var e : errors.entrySet())
                if (!(e.getValue().rel() < 8e-3)) failures.add(name + " " + e.getKey() + " rel " + e.getValue().rel());
            float[][] first = gradients(cuda, v, batch, tokens, causal);
            for (int run = 1; run < 3; run++) {
                float[][] again = gradients(cuda, v, batch, tokens, causal);
                for (int i = 0; i < 3; i++)
                    if (!Arrays.equals(first[i], again[i]))
                        failures.add(name + " " + new String[] {"dq", "dk", "dv"}[i] + " differs in run " + (run + 1));
            }
        }
        return failures;
    }

    /**
     * MLA's prefill core (d_qk 192 / d_v 128, the wgmma kernel's "_det" twin, session 9; since session 13 96 / 64,
     * whose own kernel has no ordered form, and head dim 64's 128 / 64, which has no MLA kernel, both padded onto the
     * flash kernels' ordered-add instances at head dim 128, and 56 / 40 at 64): within the float64 bound and three
     * runs bit for bit, causal and not.
     */
    @Test
    void mlaCoreThreeRunsGiveTheSameBitsAndMatchTheFloat64Reference() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
        AttentionKernel ref = CpuBackend.create().attention();
        List<String> failures = new ArrayList<>();
        try (CudaBackend cuda = openDeterministic()) {
            CudaMla mla = new CudaMla(cuda);
            assertThat(mla.bwdInstance(192, 128).hasDeterministic()).as("needs the sm_90a image").isTrue();
            CudaBenchCli cli = new CudaBenchCli(cuda, 3);
            for (Object[] c : new Object[][] {{1, 1000, 4, true, 192, 128}, {2, 333, 2, false, 192, 128},
                    {1, 700, 4, true, 96, 64}, {2, 300, 4, true, 128, 64}, {1, 257, 2, false, 56, 40}}) {
                int batch = (int) c[0], tokens = (int) c[1], heads = (int) c[2], qk = (int) c[4], vd = (int) c[5];
                boolean causal = (boolean) c[3];
                String name = "MLA " + qk + "/" + vd + " (" + mla.coreKernel(qk, vd, causal, true) + ") B" + batch + " T"
                        + tokens + " H" + heads + " causal=" + causal;
                System.out.println("deterministic " + name);
                cli.mlaBackwardErrors(ref, batch, tokens, heads, qk, vd, causal).forEach((grad, e) -> {
                    if (!(e.rel() < 8e-3)) failures.add(name + " " + grad + " rel " + e.rel());
                });
                float[][] first = mlaGradients(cuda, mla, batch, tokens, heads, qk, vd, causal);
                for (int run = 1; run < 3; run++) {
                    float[][] again = mlaGradients(cuda, mla, batch, tokens, heads, qk, vd, causal);
                    for (int i = 0; i < 3; i++)
                        if (!Arrays.equals(first[i], again[i]))
                            failures.add(name + " " + new String[] {"dq", "dk", "dv"}[i] + " differs in run " + (run + 1));
                }
            }
        }
        assertThat(failures).isEmpty();
    }

    /**
     * Whole CCA / CCGQA layers (session 12: the prologue backward sums its key-temperature and depthwise-conv
     * gradients in a fixed order, no float atomics): every gradient within the float64 CPU layer's bound
     * (CudaCcaLayerCheck.tolerance) and three forward + backward passes bit for bit, at head dims 64, 128 and 256.
     */
    @Test
    void ccaLayersThreeRunsGiveTheSameBitsAndMatchTheFloat64Layer() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
        List<String> failures = new ArrayList<>();
        try (CudaBackend cuda = openDeterministic()) {
            // E, Hq, Hkv, D, k0, k1, temperature, q-k mean, B, T: cases (and seeds) of CudaCcaLayerGpuTest
            for (Object[] c : new Object[][] {{512, 4, 2, 128, 2, 2, KeyTemperature.EXP, true, 1, 333},
                    {512, 8, 2, 64, 2, 2, KeyTemperature.EXP, true, 2, 150},
                    {512, 4, 2, 128, 3, 3, KeyTemperature.LINEAR, true, 1, 190},
                    {1024, 2, 1, 256, 2, 2, KeyTemperature.EXP, false, 1, 200}}) {
                CcgqaConfig cfg = new CcgqaConfig((int) c[0], (int) c[1], (int) c[2], (int) c[3], new CompressedConvSpec(
                        (int) c[4], (int) c[5], RopeSpec.HALF, (KeyTemperature) c[6], 1e-12, (boolean) c[7], true));
                int batch = (int) c[8], tokens = (int) c[9];
                CudaCcaLayerCheck check = new CudaCcaLayerCheck(cfg, 7 + tokens);
                String name = check.describe() + " B" + batch + " T" + tokens;
                check.run(cuda, batch, tokens, 300 + tokens).forEach((what, x) -> {
                    if (!(x.err().rel() < CudaCcaLayerCheck.tolerance(what, x)))
                        failures.add(name + " " + what + " rel " + x.err().rel() + " (noise " + x.noise() + ")");
                });
                Map<String, double[]> first = check.gpuResults(cuda, batch, tokens, 700 + tokens);
                assertThat(first).containsKeys("dx", "temp", "conv_qk_depthwise.weight", "conv_qk_depthwise.bias",
                        "conv_qk_grouped.weight", "q_proj.weight", "o_proj.weight");
                for (int run = 1; run < 3; run++) {
                    Map<String, double[]> again = check.gpuResults(cuda, batch, tokens, 700 + tokens);
                    for (var e : first.entrySet())
                        if (!Arrays.equals(e.getValue(), again.get(e.getKey())))
                            failures.add(name + " " + e.getKey() + " differs in run " + (run + 1));
                }
            }
        }
        assertThat(failures).isEmpty();
    }

    private static float[][] mlaGradients(CudaBackend cuda, CudaMla mla, int batch, int tokens, int heads, int qk, int vd,
                                          boolean causal) {
        long rows = (long) batch * tokens * heads;
        double scale = 1 / Math.sqrt(qk);
        try (DeviceBuffer q = cuda.uploadBf16(Random.bf16(rows * qk, 71)); DeviceBuffer k = cuda.uploadBf16(Random.bf16(rows * qk, 72));
             DeviceBuffer v = cuda.uploadBf16(Random.bf16(rows * vd, 73)); DeviceBuffer g = cuda.uploadBf16(Random.bf16(rows * vd, 74));
             DeviceBuffer o = cuda.allocate(rows * vd * 2); DeviceBuffer lse = cuda.allocate(rows * 4);
             DeviceBuffer dq = cuda.allocate(rows * qk * 4); DeviceBuffer dk = cuda.allocate(rows * qk * 4);
             DeviceBuffer dv = cuda.allocate(rows * vd * 4)) {
            mla.forward(o, lse, q, k, v, batch, tokens, heads, qk, vd, causal, scale);
            mla.backward(dq, dk, dv, q, k, v, o, lse, g, batch, tokens, heads, qk, vd, causal, scale);
            return new float[][] {cuda.downloadFloats(dq, (int) (rows * qk)), cuda.downloadFloats(dk, (int) (rows * qk)),
                    cuda.downloadFloats(dv, (int) (rows * vd))};
        }
    }

    /** dq, dk, dv of one backward on fixed random inputs (the forward's o and lse from the same backend). */
    private static float[][] gradients(CudaBackend cuda, Variant v, int batch, int tokens, boolean causal) {
        AttentionShape s = new AttentionShape(batch, tokens, v.qHeads(), v.kvHeads(), v.headDim());
        try (DeviceBuffer q = cuda.uploadBf16(Random.bf16(s.qElements(), 61));
             DeviceBuffer k = cuda.uploadBf16(Random.bf16(s.kvElements(), 62));
             DeviceBuffer vv = cuda.uploadBf16(Random.bf16(s.kvElements(), 63));
             DeviceBuffer g = cuda.uploadBf16(Random.bf16(s.qElements(), 64));
             DeviceBuffer o = cuda.allocate(s.qElements() * 2);
             DeviceBuffer lse = cuda.allocate((long) batch * v.qHeads() * tokens * 4);
             DeviceBuffer dq = cuda.allocate(s.qElements() * 4); DeviceBuffer dk = cuda.allocate(s.kvElements() * 4);
             DeviceBuffer dv = cuda.allocate(s.kvElements() * 4)) {
            cuda.flashForward(o, lse, q, k, vv, s, causal, v.kvHeads());
            cuda.flashBackward(dq, dk, dv, q, k, vv, o, lse, g, s, causal);
            return new float[][] {cuda.downloadFloats(dq, (int) s.qElements()), cuda.downloadFloats(dk, (int) s.kvElements()),
                    cuda.downloadFloats(dv, (int) s.kvElements())};
        }
    }

    private static CudaBackend openDeterministic() {
        String saved = System.getProperty("ccalab.flash.deterministic");
        System.setProperty("ccalab.flash.deterministic", "true");
        try {
            return CudaBackend.open();
        } finally {
            if (saved == null) System.clearProperty("ccalab.flash.deterministic");
            else System.setProperty("ccalab.flash.deterministic", saved);
        }
    }
}
