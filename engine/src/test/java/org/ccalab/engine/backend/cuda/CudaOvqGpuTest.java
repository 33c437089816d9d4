package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.Scope;
import org.ccalab.common.variant.OvqAssignment;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.OvqGrowth;
import org.ccalab.common.variant.OvqSpec;
import org.ccalab.common.variant.OvqUpdate;
import org.ccalab.engine.run.RecordingObserver;
import org.ccalab.engine.run.RunFailedException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * On a GPU host (tag {@code gpu}): OVQ's core kernel ({@link CudaOvq}) against the float64 reference
 * ({@link OvqCoreReference}) on the same bf16 q, k, v. The fold's discrete outcome (dictionary size, chunks folded,
 * open-chunk tokens, every count) must equal the reference's exactly; the reads within {@link #TOLERANCE}: the
 * output's bf16 rounding (relative 2^-9 at most, ~1.1e-3 in the Frobenius measure) plus fp32 arithmetic. Each
 * sequence also runs split into prefill pieces and single-token decode steps, which must give the same rows.
 */
@Tag("gpu")
class CudaOvqGpuTest {
    static final double TOLERANCE = 3e-3;
    /** The projections' bf16 outputs (relative 2^-9 each) against float64 products: as the flash layers' 1e-2. */
    static final double LAYER_TOLERANCE = 1e-2;

    @BeforeAll
    static void gpu() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
    }

    static OvqSpec spec(int chunk, int nMax, int growthLength, OvqGrowth growth, OvqAssignment assignment,
                        OvqUpdate update, boolean stateOnly, boolean renormalize) {
        return new OvqSpec(chunk, nMax, growthLength, growth, assignment, update, 0.3, stateOnly, renormalize, true,
                true, 0);
    }

    static OvqSpec plain(int chunk, int nMax, int growthLength) {
        return spec(chunk, nMax, growthLength, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, false, false);
    }

    @Test
    void prefillMatchesTheFloat64Reference() {
        try (CudaBackend cuda = CudaBackend.open()) {
            assertCase(cuda, plain(16, 48, 256), 64, 2, 3, 333, List.of(333), 1);
            assertCase(cuda, plain(64, 200, 1024), 128, 1, 2, 700, List.of(700), 2);
            // 1100 rows: 138 per block, three staged tiles of 64 (the last partial)
            assertCase(cuda, spec(64, 1100, 1100, OvqGrowth.LINEAR, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, false,
                    false), 64, 1, 1, 1400, List.of(1400), 3);
            assertCase(cuda, plain(1, 20, 100), 64, 1, 2, 90, List.of(90), 4); // a fold after every token
        }
    }

    /** Each [ours] flag, through a prefill of 100 tokens and 50 decode steps (the direct decode path between folds). */
    @Test
    void everyFlagMatchesTheFloat64Reference() {
        try (CudaBackend cuda = CudaBackend.open()) {
            assertCase(cuda, spec(8, 40, 200, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.CONSTANT, false, false),
                    64, 1, 2, 150, CudaOvqCheck.decodePieces(100, 150), 5);
            assertCase(cuda, spec(8, 40, 200, OvqGrowth.LOG, OvqAssignment.DOT, OvqUpdate.NEWTON, false, false),
                    64, 1, 2, 150, CudaOvqCheck.decodePieces(100, 150), 6);
            assertCase(cuda, spec(8, 40, 200, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, true, false),
                    64, 1, 2, 150, CudaOvqCheck.decodePieces(100, 150), 7);
            assertCase(cuda, spec(8, 40, 200, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, false, true),
                    128, 1, 2, 150, CudaOvqCheck.decodePieces(100, 150), 8);
        }
    }

    @Test
    void decodeStepsAndPrefillPiecesGiveThePrefillRows() {
        try (CudaBackend cuda = CudaBackend.open()) {
            List<Integer> pieces = new ArrayList<>(List.of(100, 57));
            for (int i = 0; i < 20; i++) pieces.add(1);
            pieces.add(333 - 177);
            assertCase(cuda, plain(16, 48, 256), 64, 2, 3, 333, pieces, 1);
            List<Integer> wide = new ArrayList<>(List.of(64));
            for (int i = 0; i < 70; i++) wide.add(1);
            wide.add(700 - 134);
            assertCase(cuda, plain(64, 200, 1024), 128, 1, 2, 700, wide, 2);
        }
    }

    /** T tokens run on the GPU in {@code pieces} calls against one float64 run; asserts rows and dictionaries. */
    static void assertCase(CudaBackend cuda, OvqSpec spec, int d, int batch, int heads, int tokens, List<Integer> pieces,
                           long seed) {
        CudaOvqCheck.Core r = CudaOvqCheck.core(cuda, spec, d, batch, heads, tokens, pieces, seed);
        String what = "L " + spec.chunkLength() + ", N_max " + spec.dictionarySize() + ", D " + d + ", " + spec.update()
                + ", " + spec.assignment() + (spec.stateOnly() ? ", state-only" : "") + (spec.renormalizeCentroids()
                ? ", renormalised" : "") + ", T " + tokens + " in " + pieces.size() + " call(s)";
        System.out.printf("OVQ core %s: rel %.2e, max abs %.2e, %s%n", what, r.err().rel(), r.err().maxAbs(), r.detail());
        assertThat(r.dictionariesMatch()).as(what + ": " + r.detail()).isTrue();
        assertThat(r.err().rel()).as(what).isLessThan(TOLERANCE);
    }

    /**
     * The backward kernel against the float64 gradients ({@link OvqCoreReference#backward}, the CPU engine's own
     * OvqHeadGradient) on the same bf16 inputs: every gradient is fp32 arithmetic on them (sums of at most ~10^4
     * terms: ~1e-5 relative at worst), so the bound {@link #BACKWARD_TOLERANCE} is far under a bf16 output's rounding
     * (2^-9 ~ 2e-3) and 30x the worst error measured (s16 call 2: 1.7e-7 to 2.6e-6). The training forward's reads
     * and dictionaries must match as the inference kernel's do.
     */
    @Test
    void backwardMatchesTheFloat64Gradients() {
        try (CudaBackend cuda = CudaBackend.open()) {
            assertBackward(cuda, plain(16, 48, 256), 64, 2, 3, 333, 11);        // growth, the cap, a partial chunk
            assertBackward(cuda, plain(64, 200, 1024), 128, 1, 2, 700, 12);     // two tiles of 16 rows per block
            assertBackward(cuda, spec(64, 1100, 1100, OvqGrowth.LINEAR, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, false,
                    false), 64, 1, 1, 1400, 13);                                 // 138 rows per block
            assertBackward(cuda, plain(1, 20, 100), 64, 1, 2, 90, 14);          // a fold after every token
            assertBackward(cuda, spec(8, 40, 200, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.CONSTANT, false, false),
                    64, 1, 2, 150, 15);
            assertBackward(cuda, spec(8, 40, 200, OvqGrowth.LOG, OvqAssignment.DOT, OvqUpdate.NEWTON, false, false),
                    64, 1, 2, 150, 16);
            assertBackward(cuda, spec(8, 40, 200, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, true, false),
                    64, 1, 2, 150, 17);
            assertBackward(cuda, spec(8, 40, 200, OvqGrowth.LOG, OvqAssignment.EUCLIDEAN, OvqUpdate.NEWTON, false, true),
                    128, 1, 2, 150, 18);
            assertBackward(cuda, new OvqSpec(16, 48, 256, null, null, null, null, null, null, null, false, 0),
                    64, 1, 2, 200, 19);                                          // no gradient through the folds
        }
    }

    static final double BACKWARD_TOLERANCE = 1e-4;

    static void assertBackward(CudaBackend cuda, OvqSpec spec, int d, int batch, int heads, int tokens, long seed) {
        CudaOvqCheck.Backward r = CudaOvqCheck.backward(cuda, spec, d, batch, heads, tokens, seed);
        String what = "L " + spec.chunkLength() + ", N_max " + spec.dictionarySize() + ", D " + d + ", " + spec.update()
                + ", " + spec.assignment() + (spec.stateOnly() ? ", state-only" : "") + (spec.renormalizeCentroids()
                ? ", renormalised" : "") + (spec.stateGradient() ? "" : ", no state gradient") + ", B " + batch + " x "
                + heads + " heads, T " + tokens;
        System.out.printf(Locale.ROOT, "OVQ backward %s: dq %.2e, dk %.2e, dv %.2e, dbeta %.2e; forward %.2e, %s%n", what,
                r.dq().rel(), r.dk().rel(), r.dv().rel(), r.dBeta().rel(), r.forward().rel(),
                r.dictionariesMatch() ? "dictionaries equal" : "DICTIONARIES DIFFER");
        assertThat(r.dictionariesMatch()).as(what).isTrue();
        assertThat(r.forward().rel()).as(what + ": training forward").isLessThan(TOLERANCE);
        assertThat(r.worst().rel()).as(what + ": gradients").isLessThan(BACKWARD_TOLERANCE);
    }

    @Test
    void theLayerMatchesItsFloat64Composition() {
        try (CudaBackend cuda = CudaBackend.open()) {
            OvqConfig small = new OvqConfig(256, 4, new OvqSpec(16, 40, 256, null, null, null, null, null, null, null, null, 0));
            for (int decodeFrom : new int[] {200, 150}) {
                CudaBenchCli.Err e = CudaOvqCheck.layer(cuda, small, 2, 200, decodeFrom, 9);
                System.out.printf("OVQ layer E 256, 4 heads, T 200 (decode from %d): rel %.2e%n", decodeFrom, e.rel());
                assertThat(e.rel()).isLessThan(LAYER_TOLERANCE);
            }
            OvqConfig wide = new OvqConfig(2048, 16, OvqSpec.DEFAULT);
            CudaBenchCli.Err e = CudaOvqCheck.layer(cuda, wide, 1, 130, 130, 10);
            System.out.printf("OVQ layer E 2048, 16 heads x 128, T 130: rel %.2e%n", e.rel());
            assertThat(e.rel()).isLessThan(LAYER_TOLERANCE);
        }
    }

    /**
     * The layer's training forward and backward against float64 (CudaOvqCheck.layerBackward): dx, every weight's
     * gradient and beta's within {@link #LAYER_TOLERANCE}, the bound of the layer's forward: the GPU rounds dy's
     * product with o_proj and the input projections' gradients to bf16 (2^-9 each) before the next product.
     */
    @Test
    void theLayerBackwardMatchesItsFloat64Composition() {
        try (CudaBackend cuda = CudaBackend.open()) {
            OvqConfig small = new OvqConfig(256, 4, new OvqSpec(16, 40, 256, null, null, null, null, null, null, null, null, 0));
            assertLayerBackward(cuda, small, 2, 200, 20);
            OvqConfig renorm = new OvqConfig(256, 2, new OvqSpec(16, 40, 256, null, null, OvqUpdate.CONSTANT, 0.3, null, true,
                    null, null, 0));
            assertLayerBackward(cuda, renorm, 1, 150, 21);
            assertLayerBackward(cuda, new OvqConfig(2048, 16, OvqSpec.DEFAULT), 1, 130, 22);
        }
    }

    static void assertLayerBackward(CudaBackend cuda, OvqConfig cfg, int batch, int tokens, long seed) {
        CudaOvqCheck.LayerBackward r = CudaOvqCheck.layerBackward(cuda, cfg, batch, tokens, seed);
        String what = "E " + cfg.dModel() + ", " + cfg.nHeads() + " x " + cfg.headDim() + ", L " + cfg.ovq().chunkLength() + ", B "
                + batch + ", T " + tokens;
        System.out.printf(Locale.ROOT, "OVQ layer backward %s: dx %.2e, dWq %.2e, dWk %.2e, dWv %.2e, dWo %.2e, dbeta %.2e%n",
                what, r.dx().rel(), r.dWq().rel(), r.dWk().rel(), r.dWv().rel(), r.dWo().rel(), r.dBeta().rel());
        assertThat(r.worst().rel()).as(what).isLessThan(LAYER_TOLERANCE);
    }

    /**
     * A BENCHMARK run of OVQ through {@link CudaEngine} (head dim 64, the spec's defaults, 2048 tokens: the dictionary
     * has its 1024 rows): forward, backward and decode cells, core and layer (the CORE cells timing the layer), each
     * with its float64 error. A chunk the kernels do not take fails as INVALID_CONFIG.
     */
    @Test
    void theEngineBenchmarksOvqForwardBackwardAndDecode() {
        RecordingObserver obs = new RecordingObserver();
        OvqConfig cfg = new OvqConfig(1024, 16);
        try (CudaEngine engine = CudaEngine.create()) {
            engine.run(new RunSpec(RunKind.BENCHMARK, cfg, 1, new BenchmarkSpec(1, 2048, null, null, null, null, null, null),
                    null), null, null, obs);
            List<BenchmarkCell> cells = obs.cells;
            cells.forEach(c -> System.out.printf(Locale.ROOT,
                    "OVQ cell %s/%s: p50 %.4f ms, %.2f TFLOP/s, %.3g B/s, peak %d B, rel error %.2e%n", c.phase(), c.scope(),
                    c.p50Ms(), c.tflops(), c.bytesPerSecond(), c.peakMemoryBytes(), c.maxRelError()));
            assertThat(cells).extracting(c -> c.phase() + "/" + c.scope())
                    .containsExactlyInAnyOrder("FORWARD/CORE", "FORWARD/LAYER", "BACKWARD/CORE", "BACKWARD/LAYER",
                            "DECODE/CORE", "DECODE/LAYER");
            assertThat(cells).allSatisfy(c -> {
                // CORE cells time the layer, as the CPU engine's OVQ cells do (docs/contracts.md), and say so
                assertThat(c.backend()).isEqualTo(c.scope() == Scope.CORE ? "cuda core=layer" : "cuda");
                assertThat(c.p50Ms()).isPositive();
                assertThat(c.p10Ms()).isLessThanOrEqualTo(c.p90Ms());
                assertThat(c.tflops()).isPositive();
                assertThat(c.kvBytesPerToken()).isZero();
                assertThat(c.maxRelError()).isLessThan(LAYER_TOLERANCE);
            });
            assertThat(cells).filteredOn(c -> c.phase() == Phase.DECODE).allSatisfy(c -> assertThat(c.bytesPerSecond())
                    .isGreaterThan(1e9));
            assertThatThrownBy(() -> engine.run(new RunSpec(RunKind.BENCHMARK, new OvqConfig(1024, 16,
                    new OvqSpec(128, 1024, 4096, null, null, null, null, null, null, null, null, 0)), 1,
                    new BenchmarkSpec(1, 256, null, null, null, null, null, null), null), null, null, new RecordingObserver()))
                    .isInstanceOfSatisfying(RunFailedException.class, e -> {
                        assertThat(e.failureClass()).isEqualTo(FailureClass.INVALID_CONFIG);
                        assertThat(e.getMessage()).contains("chunkLength");
                    });
        }
    }
}
