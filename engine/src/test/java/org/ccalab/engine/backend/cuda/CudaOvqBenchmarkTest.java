package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import org.ccalab.common.run.Phase;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.cost.CostEstimate;
import org.ccalab.common.variant.cost.CostModel;
import org.junit.jupiter.api.Test;

/** The OVQ cells' FLOPs and bytes without a GPU: the cost model's OVQ terms for the layer, no backward. */
class CudaOvqBenchmarkTest {
    static final OvqConfig CFG = new OvqConfig(1024, 16); // 16 x 64, chunk 64, N_max 1024 from 4096 tokens

    @Test
    void flopsAreTheCostModelsLayerFigures() {
        for (int s : new int[] {100, 4096, 16384}) {
            CostEstimate cost = CostModel.estimate(CFG, s, 2);
            assertThat(CudaOvqBenchmark.flops(Phase.FORWARD, cost, CFG, s)).isEqualTo(cost.prefillFlopsCausal());
            assertThat(CudaOvqBenchmark.flops(Phase.DECODE, cost, CFG, s)).isEqualTo(CostModel.decodeFlops(CFG, s));
        }
        // linear in S once the dictionary is full (4096 tokens): every later token costs the same
        double f4 = CudaOvqBenchmark.flops(Phase.FORWARD, CostModel.estimate(CFG, 4096, 2), CFG, 4096);
        double f16 = CudaOvqBenchmark.flops(Phase.FORWARD, CostModel.estimate(CFG, 16384, 2), CFG, 16384);
        double f64 = CudaOvqBenchmark.flops(Phase.FORWARD, CostModel.estimate(CFG, 65536, 2), CFG, 65536);
        assertThat((f64 - f16) / (65536 - 16384)).isCloseTo((f16 - f4) / (16384 - 4096), org.assertj.core.data.Offset.offset(1e-6 * f4));
    }

    @Test
    void decodeBytesAreTheStateReadPlusTheWeights() {
        CostEstimate cost = CostModel.estimate(CFG, 16384, 2);
        // 16 heads x 1024 rows x (2 x 64 + 1) fp32, nothing open at a chunk boundary
        assertThat(cost.decodeCacheBytesRead()).isEqualTo(16L * 1024 * 129 * 4);
        assertThat(CudaOvqBenchmark.bytes(Phase.DECODE, cost, CFG, 16384))
                .isEqualTo(16L * 1024 * 129 * 4 + 2.0 * CostModel.linearWeights(CFG));
        // the same at 64k: the state does not grow with the context
        assertThat(CudaOvqBenchmark.bytes(Phase.DECODE, CostModel.estimate(CFG, 65536, 2), CFG, 65536))
                .isEqualTo(CudaOvqBenchmark.bytes(Phase.DECODE, cost, CFG, 16384));
        assertThat(CudaOvqBenchmark.bytes(Phase.FORWARD, cost, CFG, 16384))
                .isEqualTo(2.0 * 4 * 16384 * 1024 + 2.0 * (2.0 * 16384 * 1024 + CostModel.linearWeights(CFG)));
    }

    @Test
    void backwardCountsTwiceThePrefillAndItsTraffic() {
        CostEstimate cost = CostModel.estimate(CFG, 128, 2);
        assertThat(CudaOvqBenchmark.flops(Phase.BACKWARD, cost, CFG, 128)).isEqualTo(2.0 * cost.prefillFlopsCausal());
        // x, dy, dx (bf16, width 1024); q, k, v, dO bf16 and dq, dk, dv fp32 (16 x 64); weights read, gradients added
        assertThat(CudaOvqBenchmark.bytes(Phase.BACKWARD, cost, CFG, 128))
                .isEqualTo(2.0 * 3 * 128 * 1024 + 20.0 * 128 * 1024 + 10.0 * CostModel.linearWeights(CFG));
    }
}
