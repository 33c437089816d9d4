package org.ccalab.worker.execute;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.event.EnvironmentFingerprint;
import org.ccalab.common.event.EventType;
import org.ccalab.common.event.Failure;
import org.ccalab.common.event.MetricPoint;
import org.ccalab.common.event.RunEvent;
import org.ccalab.common.run.RunRequest;
import org.ccalab.engine.run.RunObserver;
import org.ccalab.worker.publish.EventPublisher;

/**
 * One attempt as the scheduler sees it: the events it emits, numbered 1, 2, ... in send order. The engine's
 * thread and the heartbeat thread both emit, so numbering and sending happen under one lock: seq order is
 * partition order. Metric points are buffered and sent in batches, and always flushed before a checkpoint so
 * that an attempt resuming from that checkpoint repeats only points that were never sent or are deduplicated.
 */
final class RunSession implements RunObserver {
    private final RunRequest request;
    private final String workerId;
    private final EventPublisher publisher;
    private final int batchSize;
    private final long flushIntervalNanos;

    private final List<MetricPoint> pending = new ArrayList<>(); // guarded by this
    private long seq;                                            // guarded by this; last seq sent
    private long lastFlushNanos = System.nanoTime();             // guarded by this
    private boolean closed;                                      // guarded by this; a terminal event was sent
    private volatile StopReason stopReason;

    RunSession(RunRequest request, String workerId, EventPublisher publisher, int batchSize, Duration flushInterval) {
        this.request = request;
        this.workerId = workerId;
        this.publisher = publisher;
        this.batchSize = batchSize;
        this.flushIntervalNanos = flushInterval.toNanos();
    }

    RunRequest request() {
        return request;
    }

    void requestStop(StopReason reason) {
        if (stopReason == null || reason == StopReason.FENCE) stopReason = reason; // fencing overrides: say nothing
    }

    StopReason stopReason() {
        return stopReason;
    }

    synchronized void started(EnvironmentFingerprint environment) {
        emit(EventType.STARTED, e -> e.withEnvironment(environment));
    }

    /** Renews the lease; also sends points that have waited long enough. Silent once the attempt has ended. */
    synchronized void heartbeat() {
        if (closed) return;
        if (!pending.isEmpty() && System.nanoTime() - lastFlushNanos >= flushIntervalNanos) flushMetrics();
        emit(EventType.HEARTBEAT, Function.identity());
    }

    @Override
    public synchronized void metrics(List<MetricPoint> points) {
        pending.addAll(points);
        if (pending.size() >= batchSize || System.nanoTime() - lastFlushNanos >= flushIntervalNanos) flushMetrics();
    }

    @Override
    public synchronized void cells(List<BenchmarkCell> cells) {
        flushMetrics();
        emit(EventType.BENCHMARK_CELLS, e -> e.withCells(cells));
    }

    @Override
    public synchronized void checkpoint(CheckpointRef checkpoint) {
        flushMetrics();
        emit(EventType.CHECKPOINT, e -> e.withCheckpoint(checkpoint));
    }

    @Override
    public boolean stopRequested() {
        return stopReason != null;
    }

    synchronized void succeeded() {
        finish(EventType.SUCCEEDED, Function.identity());
    }

    synchronized void cancelled() {
        finish(EventType.CANCELLED, e -> e.withMessage("cancelled on request"));
    }

    synchronized void failed(Failure failure) {
        finish(EventType.FAILED, e -> e.withFailure(failure).withMessage(failure.message()));
    }

    /** Ends the attempt without a word (fenced, or abandoned to the watchdog). */
    synchronized void abandon() {
        closed = true;
    }

    private void finish(EventType type, Function<RunEvent, RunEvent> payload) {
        if (closed) return;
        flushMetrics();
        emit(type, payload);
        closed = true;
    }

    private void flushMetrics() {
        if (pending.isEmpty()) return;
        List<MetricPoint> batch = List.copyOf(pending);
        emit(EventType.METRICS, e -> e.withMetrics(batch));
        pending.clear(); // only once sent: a failed send keeps the points for the terminal flush
        lastFlushNanos = System.nanoTime();
    }

    private void emit(EventType type, Function<RunEvent, RunEvent> payload) {
        RunEvent event = payload.apply(RunEvent.of(request.runId(), request.attempt(), seq + 1, type, workerId));
        publisher.event(event);
        seq++;
    }
}
