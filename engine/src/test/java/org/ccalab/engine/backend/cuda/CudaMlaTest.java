package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.Scope;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.cost.CostEstimate;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.Parameter;
import org.junit.jupiter.api.Test;

/**
 * Host logic of the MLA launchers, layer and benchmark without a GPU: buffer-size checks fire before any launch
 * (buffers here are never dereferenced), the benchmark's random parameters have the CPU layer's names and
 * shapes, and its FLOPs and bytes are the cost model's.
 */
class CudaMlaTest {
    static final MlaConfig V2_LITE = MlaConfig.kvMatched(2048, 16, 512);
    /** No kernel, no device: every call below must fail on its checks first. */
    private final CudaMla mla = new CudaMla(null, null, new CudaMla.Limits(132, 227 * 1024, 228 * 1024));

    private static DeviceBuffer fake(long bytes) {
        return new DeviceBuffer(null, new DevicePointer(), bytes, bytes);
    }

    /**
     * A (d_qk, d_v) without an mla_fwd / mla_bwd instance takes the padded path: it needs the backend's flash kernels
     * (none here: refused before any launch) and a pair both of whose widths are multiples of 8 and at most 256.
     */
    @Test
    void theCoreWithoutAnInstanceRunsPaddedOrSaysWhyItCannot() {
        int b = 1, t = 10, h = 4;
        long rows = (long) b * t * h;
        int[][] dims = {{128, 64}, {320, 64}, {60, 64}};
        for (int[] d : dims) {
            DeviceBuffer q = fake(rows * d[0] * 2), k = fake(rows * d[0] * 2), v = fake(rows * d[1] * 2);
            DeviceBuffer o = fake(rows * d[1] * 2), lse = fake(rows * 4);
            var fwd = assertThatThrownBy(() -> mla.forward(o, lse, q, k, v, b, t, h, d[0], d[1], true, 0.1));
            var bwd = assertThatThrownBy(() -> mla.backward(fake(rows * d[0] * 4), fake(rows * d[0] * 4), fake(rows * d[1] * 4),
                    q, k, v, o, lse, fake(rows * d[1] * 2), b, t, h, d[0], d[1], true, 0.1));
            if (d[0] == 128) {
                fwd.isInstanceOf(IllegalStateException.class).hasMessageContaining("flash kernels");
                bwd.isInstanceOf(IllegalStateException.class).hasMessageContaining("flash kernels");
            } else {
                fwd.hasMessageContaining("no MLA prefill core for d_qk " + d[0]);
                bwd.hasMessageContaining("no MLA prefill core for d_qk " + d[0]);
            }
        }
        // its own kernels where they exist, unless told to pad (the CLI's timing of both paths)
        assertThat(mla.coreKernel(96, 64, true, false)).isEqualTo("mla_fwd_qk96_v64_causal");
        assertThat(mla.withCorePath(CudaMla.CorePath.OWN).coreKernel(96, 64, false, true)).isEqualTo("mla_bwd_qk96_v64");
        assertThatThrownBy(() -> mla.withCorePath(CudaMla.CorePath.PADDED).coreKernel(96, 64, true, false))
                .hasMessageContaining("flash kernels");
    }

    @Test
    void theLaunchersCheckEveryBufferAgainstTheShape() {
        int b = 2, t = 100, h = 16, dqk = 192, dv = 128;
        long rows = (long) b * t * h;
        DeviceBuffer q = fake(rows * dqk * 2), k = fake(rows * dqk * 2), v = fake(rows * dv * 2), lse = fake(rows * 4);
        assertThatThrownBy(() -> mla.forward(fake(rows * dv * 2 - 2), lse, q, k, v, b, t, h, dqk, dv, true, 0.07))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("o: device buffer of");
        assertThatThrownBy(() -> mla.forward(fake(rows * dv * 2), fake(rows * 4 - 4), q, k, v, b, t, h, dqk, dv, true, 0.07))
                .hasMessageStartingWith("lse:");
        assertThatThrownBy(() -> mla.forward(fake(rows * dv * 2), lse, fake(rows * dqk * 2 - 2), k, v, b, t, h, dqk, dv, true,
                0.07)).hasMessageStartingWith("q:");
        int r = 512, dr = 64, cap = 300;
        DeviceBuffer oLat = fake((long) b * h * r * 4), qa = fake((long) b * h * (r + dr) * 2);
        DeviceBuffer cache = fake((long) b * cap * (r + dr) * 2);
        assertThatThrownBy(() -> mla.decode(oLat, qa, cache, b, 301, cap, h, r, dr, 0.07)).hasMessageContaining("length 301");
        assertThatThrownBy(() -> mla.decode(oLat, qa, fake((long) b * cap * (r + dr) * 2 - 2), b, 300, cap, h, r, dr, 0.07))
                .hasMessageStartingWith("cache:");
        assertThatThrownBy(() -> mla.decode(fake((long) b * h * r * 2), qa, cache, b, 10, cap, h, r, dr, 0.07))
                .hasMessageStartingWith("oLat:");  // fp32: 4 bytes per element
        // the fused merge needs the backend's spin counters (this CudaMla has none) and a ring instance: refused, not run
        var ring = mla.decodeInstance(r, dr);
        var sp = CudaMlaKernels.decodeSplit(1, h, 16384, ring, 132, 228 * 1024);
        assertThatThrownBy(() -> mla.decode(oLat, qa, cache, 1, 16384, 16384, h, r, dr, 0.07, ring, sp, true))
                .hasMessageContaining("fused merge refused").hasMessageContaining("no fused merge here");
        assertThat(mla.fusedMergeFits(ring, sp, 1, h)).isFalse();
        // so without counters the rule names split + combine (the cell a timing is recorded beside)
        assertThat(mla.decodeKernels(1, h, 16384, r, dr)).isEqualTo("mla_decode_ring_r512_rope64 + mla_decode_combine_r512");
        DeviceBuffer a = fake((long) b * t * (r + dr) * 2), w = fake(r * 4L);
        assertThatThrownBy(() -> mla.kvLatent(null, cache, a, w, b, t, cap, 201, r, dr, 1e-6, 1e4))
                .hasMessageContaining("positions [201, 301)");
        assertThatThrownBy(() -> mla.kvLatent(fake((long) b * t * r), cache, a, w, b, t, cap, 0, r, dr, 1e-6, 1e4))
                .hasMessageStartingWith("c:");
        assertThatThrownBy(() -> mla.expandKv(k, v, fake(rows * 256 * 2 - 2), cache, b, t, cap, h, 128, dr, dv, r))
                .hasMessageStartingWith("kvUp:");
        assertThatThrownBy(() -> mla.expandKv(k, v, fake(rows * 256 * 2), cache, b, t, cap, h, 124, dr, dv, r))
                .hasMessageContaining("multiple of 8");
        DeviceBuffer kvB = fake((long) h * 256 * r * 2);
        assertThatThrownBy(() -> mla.absorbQuery(fake((long) b * h * r * 2), fake((long) b * h * dqk * 2), kvB, b, h, 128, dr, dv, r))
                .hasMessageStartingWith("qa:");
        assertThatThrownBy(() -> mla.unabsorb(fake((long) b * h * dv * 2), oLat, fake((long) h * 256 * r * 2 - 2), b, h, 128, dv, r))
                .hasMessageStartingWith("kvB:");
        // the layer backward's steps: fp32 core gradients in, bf16 GEMM operands out
        long n = (long) b * t;
        DeviceBuffer dK = fake(rows * dqk * 4), dV = fake(rows * dv * 4);
        assertThatThrownBy(() -> mla.kvUpBackward(fake(rows * 256 * 2 - 2), dK, dV, n, h, 128, dr, dv))
                .hasMessageStartingWith("dKvUp:");
        assertThatThrownBy(() -> mla.kvUpBackward(fake(rows * 256 * 2), fake(rows * dqk * 2), dV, n, h, 128, dr, dv))
                .hasMessageStartingWith("dK:");  // fp32
        assertThatThrownBy(() -> mla.kvUpBackward(fake(rows * 256 * 2), dK, dV, n, h, 124, dr, dv))
                .hasMessageContaining("multiple of 8");
        DeviceBuffer dA = fake(n * (r + dr) * 2), gw = fake(r * 4L), dC = fake(n * r * 2);
        assertThatThrownBy(() -> mla.kvLatentBackward(dA, gw, dC, a, w, fake(rows * dqk * 4 - 4), b, t, 0, h, 128, r, dr, 1e-6, 1e4))
                .hasMessageStartingWith("dK:");
        assertThatThrownBy(() -> mla.kvLatentBackward(fake(n * (r + dr) * 2 - 2), gw, dC, a, w, dK, b, t, 0, h, 128, r, dr, 1e-6, 1e4))
                .hasMessageStartingWith("dA:");
        assertThatThrownBy(() -> mla.kvLatentBackward(dA, fake(r * 2L), dC, a, w, dK, b, t, 0, h, 128, r, dr, 1e-6, 1e4))
                .hasMessageStartingWith("normWeightGrad:");
        assertThatThrownBy(() -> mla.kvLatentBackward(dA, gw, fake(n * r * 2 - 2), a, w, dK, b, t, 0, h, 128, r, dr, 1e-6, 1e4))
                .hasMessageStartingWith("dC:");
    }

    @Test
    void theBenchmarksParametersHaveTheCpuLayersNamesAndShapes() {
        for (MlaConfig cfg : new MlaConfig[] {V2_LITE, new MlaConfig(512, 4, 256, 448, 32, 64, 64, 1e4, 1e-6)}) {
            Map<String, Integer> cpu = new LinkedHashMap<>();
            for (Parameter p : AttentionLayers.create(cfg, new Random(1)).parameters())
                cpu.put(p.name(), p.value().data().length);
            Map<String, Integer> ours = new LinkedHashMap<>();
            CudaMlaBenchmark.randomParameters(cfg, 3).forEach((name, d) -> ours.put(name, d.length));
            assertThat(ours).isEqualTo(cpu);
        }
        Map<String, double[]> p = CudaMlaBenchmark.randomParameters(V2_LITE, 3);
        assertThat(p.get("kv_a_layernorm.weight")).containsOnly(1.0);
        assertThatThrownBy(() -> CudaMlaLayer.param(p, "q_a_proj.weight", 10)).hasMessageContaining("missing");
        assertThatThrownBy(() -> CudaMlaLayer.param(p, "o_proj.weight", 10)).hasMessageContaining("needs 10");
    }

    @Test
    void cellsCountTheCostModelsFlopsAndCacheBytes() {
        int s = 4096;
        CostEstimate cost = CostModel.estimate(V2_LITE, s, 2);
        long n = 16, dqk = 192, dv = 128, r = 512, dr = 64;
        // causal core: n (d_qk + d_v) S (S + 1); layer: the cost model's exact causal prefill
        assertThat(CudaMlaBenchmark.flops(Phase.FORWARD, Scope.CORE, cost, V2_LITE, s, true))
                .isEqualTo((double) n * (dqk + dv) * s * (s + 1));
        assertThat(CudaMlaBenchmark.flops(Phase.FORWARD, Scope.CORE, cost, V2_LITE, s, false))
                .isEqualTo(2.0 * n * (dqk + dv) * s * s);
        assertThat(CudaMlaBenchmark.flops(Phase.FORWARD, Scope.LAYER, cost, V2_LITE, s, true))
                .isEqualTo((double) cost.prefillFlopsCausal());
        // absorbed decode: 2 n (2 r_kv + d_r) per cached token; the layer adds 2W
        assertThat(CudaMlaBenchmark.flops(Phase.DECODE, Scope.CORE, cost, V2_LITE, s, true))
                .isEqualTo(2.0 * n * (2 * r + dr) * s);
        assertThat(CudaMlaBenchmark.flops(Phase.DECODE, Scope.LAYER, cost, V2_LITE, s, true))
                .isEqualTo(2.0 * n * (2 * r + dr) * s + 2.0 * CostModel.linearWeights(V2_LITE));
        long kv = CostModel.kvCacheBytesPerToken(V2_LITE, 2);
        assertThat(kv).isEqualTo(2 * (r + dr));
        assertThat(CudaMlaBenchmark.bytes(Phase.DECODE, Scope.CORE, V2_LITE, s, kv)).isEqualTo((double) s * kv);
        // the backward: the core 2.5x its forward FLOPs; the layer adds 2x the projections' (input and weight gradients)
        assertThat(CudaMlaBenchmark.flops(Phase.BACKWARD, Scope.CORE, cost, V2_LITE, s, true))
                .isEqualTo(2.5 * n * (dqk + dv) * s * (s + 1));
        double projections = 2.0 * s * CostModel.linearWeights(V2_LITE);
        assertThat(CudaMlaBenchmark.flops(Phase.BACKWARD, Scope.LAYER, cost, V2_LITE, s, true))
                .isCloseTo(2.5 * n * (dqk + dv) * s * (s + 1) + 2 * projections, org.assertj.core.data.Percentage.withPercentage(1e-9));
        double core = CudaMlaBenchmark.bytes(Phase.BACKWARD, Scope.CORE, V2_LITE, s, kv);
        assertThat(core).isEqualTo((double) s * n * (2 * (2 * dqk + 3 * dv) + 4 * (2 * dqk + dv)));
        assertThat(CudaMlaBenchmark.bytes(Phase.BACKWARD, Scope.LAYER, V2_LITE, s, kv))
                .isEqualTo(core + 4.0 * s * 2048 + 10.0 * CostModel.linearWeights(V2_LITE));
    }
}
