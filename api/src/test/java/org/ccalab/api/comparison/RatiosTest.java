package org.ccalab.api.comparison;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.ccalab.api.run.CellView;
import org.junit.jupiter.api.Test;

class RatiosTest {
    private static CellView cell(String phase, int seqLen, String dtype, double p50, Double tflops) {
        return new CellView(0, 1, phase, "CORE", true, 1, seqLen, dtype, "cpu", p50, p50, p50, tflops, null, null, null, null, null, null);
    }

    @Test
    void shouldDivideRunByBaselinePerMatchingCell() {
        var baseline = Ratios.index(List.of(cell("FORWARD", 128, "bf16", 2.0, 10.0), cell("FORWARD", 256, "bf16", 8.0, 20.0)));
        var ratios = Ratios.cells(List.of(cell("FORWARD", 256, "bf16", 2.0, 30.0), cell("DECODE", 256, "bf16", 1.0, 1.0)), baseline);

        assertThat(ratios).singleElement().satisfies(r -> {
            assertThat(r.seqLen()).isEqualTo(256);
            assertThat(r.latencyRatio()).isEqualTo(0.25);
            assertThat(r.tflopsRatio()).isEqualTo(1.5);
            assertThat(r.baselineP50Ms()).isEqualTo(8.0);
        });
    }

    @Test
    void shouldMatchOnlyTheSameDtypeAndKeepTheFirstCellPerKey() {
        var baseline = Ratios.index(List.of(cell("FORWARD", 128, "bf16", 2.0, 10.0), cell("FORWARD", 128, "fp32", 4.0, 5.0),
                cell("FORWARD", 128, "fp32", 8.0, 1.0)));
        assertThat(baseline).hasSize(2);
        var ratios = Ratios.cells(List.of(cell("FORWARD", 128, "fp32", 3.0, null), cell("FORWARD", 128, "fp16", 3.0, null)),
                baseline);
        assertThat(ratios).hasSize(1);
        assertThat(ratios.getFirst().latencyRatio()).isEqualTo(0.75);  // against the first fp32 cell, not bf16's
        assertThat(ratios.getFirst().tflopsRatio()).isNull();
    }

    @Test
    void shouldGiveNoRatioForMissingZeroOrNonFiniteSides() {
        assertThat(Ratios.ratio(1.0, 0.0)).isNull();
        assertThat(Ratios.ratio(null, 2.0)).isNull();
        assertThat(Ratios.ratio(Double.NaN, 2.0)).isNull();
        assertThat(Ratios.ratio(3.0, Double.POSITIVE_INFINITY)).isNull();
        assertThat(Ratios.ratio(3.0, 2.0)).isEqualTo(1.5);
    }
}
