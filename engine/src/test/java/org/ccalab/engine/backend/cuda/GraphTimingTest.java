package org.ccalab.engine.backend.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class GraphTimingTest {
    @Test
    void copiesCoverTheL2ColdSpanAndStayWithinOneGraph() {
        long mb = 1L << 20;
        // batch-1 8q/2kv at 16k: 16 MB of KV -> 8 copies cover 128 MB
        assertThat(GraphTiming.coldCopies(16 * mb)).isEqualTo(8);
        assertThat(GraphTiming.coldCopies(16 * mb + 1)).isEqualTo(8);
        assertThat(GraphTiming.coldCopies(17 * mb)).isEqualTo(8);
        assertThat(GraphTiming.coldCopies(15 * mb)).isEqualTo(9);
        // a cache larger than the span is read once per rotation anyway
        assertThat(GraphTiming.coldCopies(GraphTiming.L2_COLD_BYTES)).isEqualTo(1);
        assertThat(GraphTiming.coldCopies(4L << 30)).isEqualTo(1);
        // tiny inputs: never more copies than calls in a graph (each copy is read at least once per replay)
        assertThat(GraphTiming.coldCopies(1)).isEqualTo(GraphTiming.CALLS);
        assertThatThrownBy(() -> GraphTiming.coldCopies(0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void percentilesAreTheTenthMedianAndNinetiethOfTheSortedSamples() {
        double[] ms = new double[20];
        for (int i = 0; i < ms.length; i++) ms[i] = 20 - i;  // 20..1, unsorted
        assertThat(GraphTiming.percentiles(ms)).containsExactly(3.0, 11.0, 19.0);
        assertThat(GraphTiming.percentiles(new double[] {5})).containsExactly(5.0, 5.0, 5.0);
    }
}
