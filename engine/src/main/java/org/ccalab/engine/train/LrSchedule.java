package org.ccalab.engine.train;

/**
 * Linear warmup from 0 over {@code warmup} steps, then cosine decay to {@code floor * peak} at
 * {@code total}. Steps count from 1 (the step being taken).
 */
public record LrSchedule(double peak, int warmup, int total, double floor) {
    public static final double DEFAULT_FLOOR = 0.1;

    public LrSchedule(double peak, int warmup, int total) {
        this(peak, warmup, total, DEFAULT_FLOOR);
    }

    public double at(long step) {
        if (warmup > 0 && step <= warmup) return peak * step / warmup;
        long decaySteps = total - warmup;
        if (decaySteps <= 0) return peak;
        double progress = Math.min(1.0, (double) (step - warmup) / decaySteps);
        double cosine = 0.5 * (1 + StrictMath.cos(Math.PI * progress));
        return peak * (floor + (1 - floor) * cosine);
    }
}
