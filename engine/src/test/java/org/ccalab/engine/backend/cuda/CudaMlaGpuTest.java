package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Locale;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.engine.run.RecordingObserver;
import org.ccalab.engine.run.RunFailedException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * On a GPU host (tag {@code gpu}): the MLA layer on the GPU ({@link CudaMlaLayer}) against the float64 CPU layer
 * ({@link org.ccalab.engine.attention.mla.MlaAttention}) with the same bf16-rounded weights and inputs; GPU decode
 * token by token against GPU prefill rows and the CPU; and an MLA benchmark run through {@link CudaEngine}.
 *
 * <p>Tolerance: relative Frobenius error {@link CudaMlaLayerCheck#TOLERANCE} (why: its comment). Each test stays
 * well under a minute (the float64 CPU layer at E = 2048, T <= 333 is the slow part).
 */
@Tag("gpu")
class CudaMlaGpuTest {
    /** DeepSeek-V2-Lite's attention: d_qk 192, d_v 128, r_kv 512, no query compression. */
    static final MlaConfig V2_LITE = new MlaConfig(2048, 16, 0, 512, 128, 64, 128, 10_000.0, 1e-6);
    /** The other prefill instance (d_qk 96, d_v 64), r_kv 448, query compression, 4 heads (one padded head group). */
    static final MlaConfig SMALL_Q = new MlaConfig(512, 4, 256, 448, 32, 64, 64, 10_000.0, 1e-6);
    /**
     * Head dim 64 (mla.md section 6 defaults at E = 1024, 16 heads: d_qk 128 / d_v 64, r_kv 256): no MLA kernel of its
     * own, so the prefill core runs padded on the flash kernels and decode on the padded ring (session 13).
     */
    static final MlaConfig HEAD64 = MlaConfig.kvMatched(1024, 16, 256);
    /** Odd widths: d_qk 48 + 16, d_v 40, r_kv 200, d_r 16 (the core padded to 64, the decode ring to 256 / 64). */
    static final MlaConfig ODD = new MlaConfig(512, 4, 0, 200, 48, 16, 40, 10_000.0, 1e-6);
    /** r_kv 640 with d_r 32: the padded split kernel at 960 (r_kv above 512 but not 960). */
    static final MlaConfig WIDE = new MlaConfig(1024, 8, 0, 640, 64, 32, 64, 10_000.0, 1e-6);

    @BeforeAll
    static void gpu() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
    }

    @Test
    void prefillMatchesTheFloat64CpuLayer() {
        try (CudaBackend cuda = CudaBackend.open()) {
            CudaMla mla = new CudaMla(cuda);
            System.out.println("device limits " + mla.limits() + "; prefill core " + mla.fwdInstance(192, 128).name(true)
                    + ", decode " + mla.decodeInstance(512, 64).name());
            for (int t : new int[] {1, 77, 333}) assertPrefill(cuda, V2_LITE, 2, t);
            for (int t : new int[] {5, 200}) assertPrefill(cuda, SMALL_Q, 3, t);
            for (int t : new int[] {1, 150}) assertPrefill(cuda, HEAD64, 2, t);
            assertPrefill(cuda, ODD, 2, 97);
        }
    }

    @Test
    void decodeTokenByTokenEqualsPrefillRowsAndTheCpu() {
        try (CudaBackend cuda = CudaBackend.open()) {
            assertDecode(cuda, V2_LITE, 2, 150, 0);    // decode from an empty cache, crossing 64- and 128-row tiles
            assertDecode(cuda, V2_LITE, 1, 140, 100);  // prefill 100 tokens, then decode on the cache it wrote
            assertDecode(cuda, SMALL_Q, 2, 70, 33);
            assertDecode(cuda, HEAD64, 1, 90, 60);
            assertDecode(cuda, ODD, 2, 50, 20);
            assertDecode(cuda, WIDE, 2, 60, 30);
        }
    }

    /**
     * The prefill core's backward (mla_bwd, d_qk != d_v) against the CPU attention kernel's float64 backward (the
     * one {@link org.ccalab.engine.attention.mla.MlaAttention#backward} runs for its core) on the same bf16 inputs.
     */
    @Test
    void coreBackwardMatchesTheFloat64Cpu() {
        var ref = org.ccalab.engine.backend.cpu.CpuBackend.create().attention();
        try (CudaBackend cuda = CudaBackend.open()) {
            CudaBenchCli cli = new CudaBenchCli(cuda, 3);
            for (int[] c : new int[][] {{2, 150, 4, 192, 128, 1}, {1, 333, 16, 192, 128, 0}, {2, 77, 4, 96, 64, 1},
                    {2, 77, 4, 96, 64, 1, 0},
                    {1, 1, 4, 192, 128, 1}, {2, 150, 4, 128, 64, 1}, {1, 97, 2, 56, 40, 0}, {1, 200, 4, 256, 200, 1},
                    {1, 1, 4, 128, 64, 1}}) {
                boolean causal = c[5] == 1;
                // 96 / 64 also on its own (mma.sync) kernel: the rule runs it padded on the sm_90a image
                CudaMla.CorePath path = c.length > 6 ? CudaMla.CorePath.OWN : CudaMla.CorePath.RULE;
                cli.mlaBackwardErrors(ref, c[0], c[1], c[2], c[3], c[4], causal, path).forEach((grad, err) -> {
                    String what = "mla core backward " + grad + " B" + c[0] + " T" + c[1] + " H" + c[2] + " d_qk " + c[3]
                            + " d_v " + c[4] + (causal ? " causal" : "") + " " + path;
                    System.out.printf(Locale.ROOT, "%s: rel %.2e max abs %.2e%n", what, err.rel(), err.maxAbs());
                    if (c[1] == 1 && !grad.equals("dv")) {
                        // one key: P = 1 and dS = dP - Dv = 0, so the reference dq, dk are exactly 0; ours differ
                        // by the rounding of O (bf16) inside Dv only (~1e-7)
                        assertThat(err.maxAbs()).as(what).isLessThan(1e-5);
                    } else {
                        // bf16 probabilities and dS in the MMAs, as flash_bwd (PyTorch's bf16 attention: ~1.7e-3)
                        assertThat(err.rel()).as(what).isLessThan(8e-3);
                    }
                });
            }
        }
    }

    /**
     * The layer backward ({@link CudaMlaLayer#backward}): out, dx and every parameter gradient against
     * MlaAttention.backward in float64 on fresh inputs; direct and low-rank queries, both core instances (d_qk 192 /
     * d_v 128 and 96 / 64), latent ranks 448 / 512 / 960, batch 1 and 2. Bounds: {@link CudaMlaLayerCheck}'s comment
     * (the CCA layer check's noise-adaptive gradient bound, the forward's 1e-2).
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({
            // E, n, Rq (0: direct q), R, Dn, Dr, Dv, B, T
            "2048, 16, 0, 512, 128, 64, 128, 1, 200",   // DeepSeek-V2-Lite's attention
            "2048, 16, 1024, 512, 128, 64, 128, 1, 150", // the same with query compression (MLA-4q-like)
            "1024, 8, 0, 960, 128, 64, 128, 1, 97",      // MLA-4's latent width
            "512, 4, 256, 448, 32, 64, 64, 2, 150",     // the small instance, low-rank q
            "512, 4, 0, 448, 32, 64, 64, 2, 77",        // the small instance, direct q
            "1024, 16, 0, 256, 64, 64, 64, 1, 150",     // head dim 64: the padded core (session 13)
            "512, 4, 128, 200, 48, 16, 40, 2, 97"})     // odd widths, low-rank q: padded to 64
    void layerBackwardMatchesTheFloat64CpuLayer(int e, int heads, int rq, int r, int dn, int dr, int dv, int b, int t) {
        MlaConfig cfg = new MlaConfig(e, heads, rq, r, dn, dr, dv, 10_000.0, 1e-6);
        try (CudaBackend cuda = CudaBackend.open()) {
            CudaMlaLayerCheck check = new CudaMlaLayerCheck(cuda, cfg);
            var err = check.run(b, t, 500 + t);
            assertThat(err).containsKeys("out", "dx", "kv_a_proj_with_mqa.weight", "kv_a_layernorm.weight", "kv_b_proj.weight",
                    "o_proj.weight");
            if (rq == 0) assertThat(err).containsKey("q_proj.weight").doesNotContainKey("q_a_proj.weight");
            else assertThat(err).containsKeys("q_a_proj.weight", "q_a_layernorm.weight", "q_b_proj.weight").doesNotContainKey("q_proj.weight");
            err.forEach((what, x) -> {
                double tol = CudaCcaLayerCheck.tolerance(what, x);
                System.out.printf(Locale.ROOT, "%s layer backward %s B%d T%d %s: rel %.2e max abs %.2e, GPU noise %.2e (tolerance %.2e)%n",
                        x.err().rel() < tol ? "PASS" : "FAIL", check.describe(), b, t, what, x.err().rel(), x.err().maxAbs(),
                        x.noise(), tol);
            });
            err.forEach((what, x) -> assertThat(x.err().rel()).as("%s B%d T%d %s relative error (max abs %s, GPU noise %s)",
                    check.describe(), b, t, what, x.err().maxAbs(), x.noise()).isLessThan(CudaCcaLayerCheck.tolerance(what, x)));
        }
    }

    @Test
    void theEngineBenchmarksMlaForwardDecodeAndBackward() {
        RecordingObserver obs = new RecordingObserver();
        List<BenchmarkCell> cells = obs.cells;
        MlaConfig cfg = MlaConfig.kvMatched(2048, 16, 512);
        try (CudaEngine engine = CudaEngine.create()) {
            engine.run(new RunSpec(RunKind.BENCHMARK, cfg, 1, new BenchmarkSpec(2, 1024, null, null, null, null, null, null),
                    null), null, null, obs);
            cells.forEach(c -> System.out.printf(Locale.ROOT,
                    "MLA cell %s/%s: p50 %.4f ms, %.1f TFLOP/s, %.3g B/s, kv %d B/token, peak %d B, rel error %.2e%n", c.phase(),
                    c.scope(), c.p50Ms(), c.tflops(), c.bytesPerSecond(), c.kvBytesPerToken(), c.peakMemoryBytes(), c.maxRelError()));
            assertThat(cells).extracting(c -> c.phase() + "/" + c.scope())
                    .containsExactlyInAnyOrder("FORWARD/CORE", "FORWARD/LAYER", "DECODE/CORE", "DECODE/LAYER", "BACKWARD/CORE",
                            "BACKWARD/LAYER");
            // the layer cells carry their error against the float64 CPU layer at T <= 256 (CudaMlaLayerCheck's bounds)
            assertThat(cells).filteredOn(c -> c.scope() == org.ccalab.common.run.Scope.LAYER).allSatisfy(c -> assertThat(c.maxRelError())
                    .isLessThan(c.phase() == org.ccalab.common.run.Phase.BACKWARD ? CudaCcaLayerCheck.GRADIENT_TOLERANCE
                            : CudaMlaLayerCheck.TOLERANCE));
            assertThat(cells).allSatisfy(c -> {
                assertThat(c.backend()).isEqualTo("cuda");
                assertThat(c.p50Ms()).isPositive();
                assertThat(c.p10Ms()).isLessThanOrEqualTo(c.p90Ms());
                assertThat(c.tflops()).isPositive();
                assertThat(c.kvBytesPerToken()).isEqualTo(CostModel.kvCacheBytesPerToken(cfg, 2)).isEqualTo(1152);
            });
            // r_kv 1024 has no decode kernel: the run fails as INVALID_CONFIG naming it, before any cell
            assertThatThrownBy(() -> engine.run(new RunSpec(RunKind.BENCHMARK, MlaConfig.kvMatched(2048, 16, 1024), 1,
                    new BenchmarkSpec(1, 128, null, null, null, null, null, null), null), null, null, new RecordingObserver()))
                    .isInstanceOfSatisfying(RunFailedException.class, e -> {
                        assertThat(e.failureClass()).isEqualTo(FailureClass.INVALID_CONFIG);
                        assertThat(e.getMessage()).contains("kvLoraRank 1024");
                    });
        }
    }

    // ---------------------------------------------------------------- helpers

    private static void assertPrefill(CudaBackend cuda, MlaConfig cfg, int batch, int tokens) {
        CudaMlaLayerCheck check = new CudaMlaLayerCheck(cuda, cfg);
        check("prefill " + check.describe() + " B" + batch + " T" + tokens + " vs CPU float64",
                check.prefill(batch, tokens, 100 + tokens));
    }

    private static void assertDecode(CudaBackend cuda, MlaConfig cfg, int batch, int tokens, int prefilled) {
        CudaMlaLayerCheck check = new CudaMlaLayerCheck(cuda, cfg);
        CudaMlaLayerCheck.DecodeErrors err = check.decode(batch, tokens, prefilled, 200 + tokens);
        String name = "decode " + check.describe() + " B" + batch + " tokens " + prefilled + ".." + (tokens - 1)
                + (prefilled > 0 ? " after a prefill of " + prefilled : " from an empty cache");
        check(name + " vs GPU prefill rows", err.vsPrefill());
        check(name + " vs CPU float64", err.vsCpu());
    }

    private static void check(String what, CudaBenchCli.Err err) {
        double tol = CudaMlaLayerCheck.TOLERANCE;
        boolean ok = err.rel() < tol;
        System.out.printf(Locale.ROOT, "%s %s: rel %.2e max abs %.2e (tolerance rel %.0e)%n", ok ? "PASS" : "FAIL", what,
                err.rel(), err.maxAbs(), tol);
        assertThat(err.rel()).as(what + ": relative error (max abs " + err.maxAbs() + ")").isLessThan(tol);
    }
}
