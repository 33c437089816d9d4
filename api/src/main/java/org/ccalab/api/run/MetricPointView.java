package org.ccalab.api.run;

/** One point of a series; tokens and elapsed seconds as the worker reported them (null when unknown). */
public record MetricPointView(long step, double value, Long tokens, Double elapsedS) {}
