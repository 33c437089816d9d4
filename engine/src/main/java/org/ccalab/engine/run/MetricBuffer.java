package org.ccalab.engine.run;

import java.util.ArrayList;
import java.util.List;
import org.ccalab.common.event.MetricPoint;

/**
 * Collects metric points and hands them to the observer in batches (every {@link #MAX_POINTS} points or
 * {@link #MAX_AGE_NANOS}), so a fast run does not send one event per step yet a slow one stays live.
 */
final class MetricBuffer {
    static final int MAX_POINTS = 64;
    static final long MAX_AGE_NANOS = 2_000_000_000L;

    private final RunObserver observer;
    private final List<MetricPoint> points = new ArrayList<>();
    private long lastFlush = System.nanoTime();

    MetricBuffer(RunObserver observer) {
        this.observer = observer;
    }

    void add(MetricPoint p) {
        points.add(p);
    }

    void maybeFlush() {
        if (points.size() >= MAX_POINTS || System.nanoTime() - lastFlush >= MAX_AGE_NANOS) flush();
    }

    void flush() {
        lastFlush = System.nanoTime();
        if (points.isEmpty()) return;
        observer.metrics(List.copyOf(points));
        points.clear();
    }
}
