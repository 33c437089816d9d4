package org.ccalab.api.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DownsamplerTest {
    private static List<MetricPointView> series(double... values) {
        List<MetricPointView> out = new ArrayList<>();
        for (int i = 0; i < values.length; i++) out.add(new MetricPointView(i, values[i], null, null));
        return out;
    }

    private static List<MetricPointView> ramp(int n) {
        List<MetricPointView> out = new ArrayList<>();
        for (int i = 0; i < n; i++) out.add(new MetricPointView(i, 10.0 - i * 1e-3, null, null));
        return out;
    }

    @Test
    void shouldReturnShortSeriesUntouched() {
        List<MetricPointView> s = series(3, 2, 1);
        assertThat(Downsampler.lttb(s, 3)).isSameAs(s);
    }

    @Test
    void shouldKeepExactlyMaxPointsWithBothEndsInStepOrder() {
        List<MetricPointView> out = Downsampler.lttb(ramp(10_001), 101);
        assertThat(out).hasSize(101);
        assertThat(out.getFirst().step()).isZero();
        assertThat(out.getLast().step()).isEqualTo(10_000);
        assertThat(out).extracting(MetricPointView::step).isSorted().doesNotHaveDuplicates();
    }

    @Test
    void shouldKeepASpikeThatStridingWouldMiss() {
        List<MetricPointView> s = ramp(1000);
        s.set(457, new MetricPointView(457, 99.0, null, null)); // not on any stride of 10
        assertThat(Downsampler.lttb(s, 100)).extracting(MetricPointView::step).contains(457L);
        s.set(457, new MetricPointView(457, -99.0, null, null));
        assertThat(Downsampler.lttb(s, 100)).extracting(MetricPointView::step).contains(457L);
    }

    @Test
    void shouldPickTheLargestTriangleInEachBucket() {
        // 0 | 1 2 | 3 4 | 5 with 4 points: buckets {1,2} and {3,4}; 2 and 3 form the larger triangles.
        List<MetricPointView> out = Downsampler.lttb(series(0, 0.1, 5, -5, 0.1, 0), 4);
        assertThat(out).extracting(MetricPointView::step).containsExactly(0L, 2L, 3L, 5L);
    }

    @Test
    void shouldKeepTheFirstNonFiniteValueOfABucketSoDivergenceShows() {
        List<MetricPointView> s = ramp(1000);
        s.set(600, new MetricPointView(600, Double.NaN, null, null));
        s.set(601, new MetricPointView(601, Double.POSITIVE_INFINITY, null, null));
        List<MetricPointView> out = Downsampler.lttb(s, 50);
        assertThat(out).hasSize(50).extracting(MetricPointView::step).contains(600L);
        assertThat(out).filteredOn(p -> p.step() > 601).allSatisfy(p -> assertThat(p.value()).isFinite());
    }

    @Test
    void shouldRefuseFewerThanThreePoints() {
        assertThatThrownBy(() -> Downsampler.lttb(ramp(10), 2)).isInstanceOf(IllegalArgumentException.class);
    }
}
