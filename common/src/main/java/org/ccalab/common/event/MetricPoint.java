package org.ccalab.common.event;

/**
 * One point of a named series (train/loss, val/loss, val/ppl, recall/accuracy, throughput/tokens_per_s,
 * lr, grad_norm). Unique on (run, name, step): a resumed attempt repeating a step leaves one point.
 */
public record MetricPoint(String name, long step, double value, long tokens, double elapsedSeconds) {}
