package org.ccalab.api.run;

import java.util.ArrayList;
import java.util.List;

/**
 * Largest-Triangle-Three-Buckets (Steinarsson 2013, "Downsampling Time Series for Visual Representation",
 * ch. 4.2): keeps the first and last point and, from each of {@code maxPoints - 2} equal buckets between,
 * the point forming the largest triangle with the previous pick and the next bucket's average, so peaks,
 * dips and the curve's shape survive where plain striding would alias them away.
 *
 * <p>Divergence is a NaN or infinite loss, and LTTB's areas cannot rank those: a bucket holding a
 * non-finite value keeps its first one, so a diverged run still shows where it diverged; non-finite
 * values are left out of the next-bucket averages.
 */
public final class Downsampler {
    private Downsampler() {}

    /** The points to draw: all of them when they fit, else {@code maxPoints} chosen by LTTB, in step order. */
    public static List<MetricPointView> lttb(List<MetricPointView> points, int maxPoints) {
        if (maxPoints < 3) throw new IllegalArgumentException("maxPoints must be >= 3, got " + maxPoints);
        int n = points.size();
        if (n <= maxPoints) return points;
        List<MetricPointView> out = new ArrayList<>(maxPoints);
        out.add(points.getFirst());
        double every = (double) (n - 2) / (maxPoints - 2);
        int a = 0;
        for (int i = 0; i < maxPoints - 2; i++) {
            int start = (int) Math.floor(i * every) + 1;
            int end = Math.min((int) Math.floor((i + 1) * every) + 1, n - 1);
            // Average of the next bucket (the last point for the final bucket).
            int nextStart = end;
            int nextEnd = Math.min((int) Math.floor((i + 2) * every) + 1, n);
            double avgX = 0, avgY = 0;
            int finite = 0;
            for (int j = nextStart; j < nextEnd; j++) {
                double y = points.get(j).value();
                if (Double.isFinite(y)) {
                    avgX += points.get(j).step();
                    avgY += y;
                    finite++;
                }
            }
            MetricPointView pa = points.get(a);
            if (finite > 0) {
                avgX /= finite;
                avgY /= finite;
            } else {
                avgX = points.get(Math.max(nextStart, nextEnd - 1)).step();
                avgY = Double.isFinite(pa.value()) ? pa.value() : 0;
            }
            int pick = -1;
            double maxArea = -1;
            for (int j = start; j < end; j++) {
                MetricPointView p = points.get(j);
                if (!Double.isFinite(p.value())) {
                    pick = j;
                    break;
                }
                double ay = Double.isFinite(pa.value()) ? pa.value() : avgY;
                double area = Math.abs((pa.step() - avgX) * (p.value() - ay) - (pa.step() - p.step()) * (avgY - ay));
                if (area > maxArea) {
                    maxArea = area;
                    pick = j;
                }
            }
            if (pick < 0) pick = start;
            out.add(points.get(pick));
            a = pick;
        }
        out.add(points.getLast());
        return out;
    }
}
