package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.event.MetricPoint;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.run.RunFailedException;
import org.ccalab.engine.run.RunObserver;
import org.ccalab.engine.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * On a GPU host (tag {@code gpu}): the MLA layer on the GPU ({@link CudaMlaLayer}) against the float64 CPU layer
 * ({@link org.ccalab.engine.attention.mla.MlaAttention}) with the same bf16-rounded weights and inputs; GPU decode
 * token by token against GPU prefill rows and the CPU; and an MLA benchmark run through {@link CudaEngine}.
 *
 * <p>Tolerance: relative Frobenius error 1e-2, the whole-layer bound of {@link CudaBenchCli}'s CCA layer check.
 * The GPU path rounds seven intermediates to bf16 (q, rotated q, a, c, k^C/v, attention output, y; decode:
 * absorbed q and un-absorbed output instead of k^C/v), each ~1.1e-3 rms relative (2^-9 / sqrt 3), which add
 * to ~3e-3 in quadrature, plus bf16 probabilities in the attention MMAs (~1e-3): 1e-2 is about twice that.
 * A wrong head mapping, rope pair, norm or split gives O(1).
 */
@Tag("gpu")
class CudaMlaGpuTest {
    static final double TOLERANCE = 1e-2;
    /** DeepSeek-V2-Lite's attention: d_qk 192, d_v 128, r_kv 512, no query compression. */
    static final MlaConfig V2_LITE = new MlaConfig(2048, 16, 0, 512, 128, 64, 128, 10_000.0, 1e-6);
    /** The other prefill instance (d_qk 96, d_v 64), r_kv 448, query compression, 4 heads (one padded head group). */
    static final MlaConfig SMALL_Q = new MlaConfig(512, 4, 256, 448, 32, 64, 64, 10_000.0, 1e-6);

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
        }
    }

    @Test
    void decodeTokenByTokenEqualsPrefillRowsAndTheCpu() {
        try (CudaBackend cuda = CudaBackend.open()) {
            assertDecode(cuda, V2_LITE, 2, 150, 0);    // decode from an empty cache, crossing 64- and 128-row tiles
            assertDecode(cuda, V2_LITE, 1, 140, 100);  // prefill 100 tokens, then decode on the cache it wrote
            assertDecode(cuda, SMALL_Q, 2, 70, 33);
        }
    }

    @Test
    void theEngineBenchmarksMlaForwardAndDecodeButNotBackward() {
        List<BenchmarkCell> cells = new ArrayList<>();
        MlaConfig cfg = MlaConfig.kvMatched(2048, 16, 512);
        try (CudaEngine engine = CudaEngine.create()) {
            engine.run(new RunSpec(RunKind.BENCHMARK, cfg, 1, new BenchmarkSpec(2, 1024, null, null, null, null, null, null),
                    null), null, null, collect(cells));
            cells.forEach(c -> System.out.printf(Locale.ROOT, "MLA cell %s/%s: p50 %.4f ms, %.1f TFLOP/s, %.3g B/s, kv %d B/token%n",
                    c.phase(), c.scope(), c.p50Ms(), c.tflops(), c.bytesPerSecond(), c.kvBytesPerToken()));
            assertThat(cells).extracting(c -> c.phase() + "/" + c.scope())
                    .containsExactlyInAnyOrder("FORWARD/CORE", "FORWARD/LAYER", "DECODE/CORE", "DECODE/LAYER");
            assertThat(cells).allSatisfy(c -> {
                assertThat(c.backend()).isEqualTo("cuda");
                assertThat(c.p50Ms()).isPositive();
                assertThat(c.p10Ms()).isLessThanOrEqualTo(c.p90Ms());
                assertThat(c.tflops()).isPositive();
                assertThat(c.kvBytesPerToken()).isEqualTo(CostModel.kvCacheBytesPerToken(cfg, 2)).isEqualTo(1152);
            });
            // r_kv 256 has no decode kernel: the run fails as INVALID_CONFIG naming it, before any cell
            assertThatThrownBy(() -> engine.run(new RunSpec(RunKind.BENCHMARK, MlaConfig.kvMatched(2048, 16, 256), 1,
                    new BenchmarkSpec(1, 128, null, null, null, null, null, null), null), null, null, collect(new ArrayList<>())))
                    .isInstanceOfSatisfying(RunFailedException.class, e -> {
                        assertThat(e.failureClass()).isEqualTo(FailureClass.INVALID_CONFIG);
                        assertThat(e.getMessage()).contains("kvLoraRank 256");
                    });
        }
    }

    // ---------------------------------------------------------------- helpers

    /** The CPU layer with its parameters rounded as the GPU stores them (linears bf16, norm gains fp32). */
    private record Reference(AttentionLayer layer, Map<String, double[]> params) {
        static Reference of(MlaConfig cfg) {
            AttentionLayer layer = AttentionLayers.create(cfg, new java.util.Random(7));
            Map<String, double[]> p = new LinkedHashMap<>();
            for (Parameter prm : layer.parameters()) {
                double[] d = prm.value().data();
                boolean norm = prm.name().contains("layernorm");
                for (int i = 0; i < d.length; i++) d[i] = norm ? (float) d[i] : Bf16.toFloat(Bf16.fromFloat((float) d[i]));
                p.put(prm.name(), d);
            }
            return new Reference(layer, p);
        }

        double[] forward(short[] x, int batch, int tokens, int width) {
            return layer.forward(Tensor.wrap(Bf16.toDoubles(x), batch, tokens, width)).output().data();
        }
    }

    private static void assertPrefill(CudaBackend cuda, MlaConfig cfg, int batch, int tokens) {
        Reference ref = Reference.of(cfg);
        int e = cfg.dModel(), rows = batch * tokens;
        short[] x = CudaBenchCli.Random.bf16((long) rows * e, 100 + tokens);
        double[] want = ref.forward(x, batch, tokens, e);
        try (CudaMlaLayer layer = new CudaMlaLayer(cuda, cfg, ref.params(), batch, tokens);
             DeviceBuffer dx = cuda.uploadBf16(x); DeviceBuffer dy = cuda.allocate((long) rows * e * 2)) {
            cuda.poison(dy);
            layer.prefill(dy, dx, tokens);
            double[] got = Bf16.toDoubles(cuda.downloadBf16(dy, rows * e));
            check("prefill " + describe(cfg) + " B" + batch + " T" + tokens + " vs CPU float64", got, want);
            assertThat(layer.length()).isEqualTo(tokens);
        }
    }

    /**
     * Prefills the first {@code prefilled} tokens (none: decode from an empty cache), decodes the rest one at a
     * time, and compares each decoded row with the same row of a GPU prefill of all tokens and of the CPU layer.
     */
    private static void assertDecode(CudaBackend cuda, MlaConfig cfg, int batch, int tokens, int prefilled) {
        Reference ref = Reference.of(cfg);
        int e = cfg.dModel(), rows = batch * tokens, steps = tokens - prefilled;
        short[] x = CudaBenchCli.Random.bf16((long) rows * e, 200 + tokens);
        double[] want = ref.forward(x, batch, tokens, e);
        double[] prefillAll;
        try (CudaMlaLayer full = new CudaMlaLayer(cuda, cfg, ref.params(), batch, tokens);
             DeviceBuffer dx = cuda.uploadBf16(x); DeviceBuffer dy = cuda.allocate((long) rows * e * 2)) {
            full.prefill(dy, dx, tokens);
            prefillAll = Bf16.toDoubles(cuda.downloadBf16(dy, rows * e));
        }
        double[] decoded = new double[batch * steps * e], wantRows = new double[decoded.length],
                prefillRows = new double[decoded.length];
        try (CudaMlaLayer layer = new CudaMlaLayer(cuda, cfg, ref.params(), batch, tokens);
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
            assertThat(layer.length()).isEqualTo(tokens);
        }
        String name = "decode " + describe(cfg) + " B" + batch + " tokens " + prefilled + ".." + (tokens - 1)
                + (prefilled > 0 ? " after a prefill of " + prefilled : " from an empty cache");
        check(name + " vs GPU prefill rows", decoded, prefillRows);
        check(name + " vs CPU float64", decoded, wantRows);
    }

    private static void check(String what, double[] got, double[] want) {
        CudaBenchCli.Err err = CudaBenchCli.Err.of(got, want);
        boolean ok = err.rel() < TOLERANCE;
        System.out.printf(Locale.ROOT, "%s %s: rel %.2e max abs %.2e (tolerance rel %.0e)%n", ok ? "PASS" : "FAIL", what,
                err.rel(), err.maxAbs(), TOLERANCE);
        assertThat(err.rel()).as(what + ": relative error (max abs " + err.maxAbs() + ")").isLessThan(TOLERANCE);
    }

    private static String describe(MlaConfig c) {
        return "MLA E" + c.dModel() + " n" + c.nHeads() + " r_kv " + c.kvLoraRank() + " d_qk " + c.qkHeadDim() + " d_v "
                + c.vHeadDim() + (c.hasQueryCompression() ? " r_q " + c.qLoraRank() : "");
    }

    private static RunObserver collect(List<BenchmarkCell> cells) {
        return new RunObserver() {
            public void metrics(List<MetricPoint> points) {}

            public void cells(List<BenchmarkCell> c) {
                cells.addAll(c);
            }

            public void checkpoint(CheckpointRef checkpoint) {}

            public boolean stopRequested() {
                return false;
            }
        };
    }
}
