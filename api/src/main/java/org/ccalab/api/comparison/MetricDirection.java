package org.ccalab.api.comparison;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Which way a metric series improves, judged by its name: accuracy-like and throughput-like series ({@code
 * recall/accuracy}, {@code throughput/tokens_per_s}, TFLOP/s) are better higher; everything else (losses, perplexity,
 * latency, bytes) better lower. The comparison reports its best value and ratio accordingly.
 */
enum MetricDirection {
    LOWER_IS_BETTER,
    HIGHER_IS_BETTER;

    /** A word of the name (split at '/', '_', '-', '.', '@', ' ') that marks a higher-is-better series. */
    private static final Pattern HIGHER = Pattern.compile(
            "(^|[/_.@ -])(accuracy|acc|tokens_per_s|throughput|tflops|top1|top5|f1|auc)($|[/_.@ -])");

    static MetricDirection of(String metric) {
        String name = metric.toLowerCase(Locale.ROOT);
        return HIGHER.matcher(name).find() || name.contains("accuracy") || name.contains("tokens/s")
                ? HIGHER_IS_BETTER : LOWER_IS_BETTER;
    }

    /** The better of a minimum and a maximum (either may be null). */
    Double best(Double min, Double max) {
        return this == HIGHER_IS_BETTER ? max : min;
    }
}
