package org.ccalab.api.run;

import java.util.List;

/**
 * One series as served: {@code totalPoints} in the step range, {@code points} after downsampling
 * ({@code downsampled} says whether LTTB thinned it to at most {@code maxPoints}).
 */
public record MetricSeriesView(String name, long totalPoints, int returnedPoints, boolean downsampled, String method,
                               List<MetricPointView> points) {}
