package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import org.ccalab.engine.backend.cuda.CudaBenchCli.Variant;
import org.junit.jupiter.api.Test;

/** The paper benchmark's grid (no GPU needed): cca.md section 9's methods at E = 2048 and every head dim. */
class CudaPaperBenchmarkTest {
    private static Variant at(String method, int d) {
        return CudaPaperBenchmark.METHODS.stream().filter(m -> m.name().equals(method)).findFirst().orElseThrow().at(d);
    }

    @Test
    void theMethodsHaveThePapersHeadCountsAtEveryHeadDim() {
        assertThat(CudaPaperBenchmark.HEAD_DIMS).containsExactly(64, 128, 256);
        for (int d : CudaPaperBenchmark.HEAD_DIMS) {
            int heads = 2048 / d;
            assertThat(at("MHA", d)).extracting(Variant::qHeads, Variant::kvHeads).containsExactly(heads, heads);
            assertThat(at("GQA-4", d)).extracting(Variant::qHeads, Variant::kvHeads).containsExactly(heads, heads / 4);
            assertThat(at("GQA-8", d)).extracting(Variant::qHeads, Variant::kvHeads).containsExactly(heads, heads / 8);
            // CCA-4x: the latent is E / 4 wide for queries and keys; CCA-2x8x: E / 2 for queries, E / 8 for keys
            assertThat(at("CCA-4x", d)).extracting(Variant::qHeads, Variant::kvHeads).containsExactly(heads / 4, heads / 4);
            assertThat(at("CCA-2x8x", d)).extracting(Variant::qHeads, Variant::kvHeads).containsExactly(heads / 2, heads / 8);
        }
        assertThat(at("CCA-2x8x", 256).name()).isEqualTo("CCA-2x8x 4q/1kv d256");
    }

    @Test
    void everyShapeOfTheGridHasItsKernels() {
        for (int d : CudaPaperBenchmark.HEAD_DIMS)
            for (CudaPaperBenchmark.Method m : CudaPaperBenchmark.METHODS) {
                Variant v = m.at(d);
                AttentionShape s = new AttentionShape(1, 512, v.qHeads(), v.kvHeads(), d);
                assertThat(s.hasBackward()).as(v.name()).isTrue();
                if (m.compressed()) assertThat(s.hasCcaPrologue()).as(v.name()).isTrue();
                assertThat(v.qHeads() % v.kvHeads()).as(v.name()).isZero();
            }
    }
}
