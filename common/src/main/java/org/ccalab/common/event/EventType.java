package org.ccalab.common.event;

public enum EventType {
    /** The worker took the attempt; payload: worker, environment. */
    STARTED,
    /** Lease renewal, every few seconds while the attempt runs. */
    HEARTBEAT,
    /** payload: metrics (a batch of points). */
    METRICS,
    /** payload: cells (benchmark measurements). */
    BENCHMARK_CELLS,
    /** payload: checkpoint. */
    CHECKPOINT,
    /** Terminal: the run finished. */
    SUCCEEDED,
    /** Terminal for this attempt: payload failure; retried by the scheduler when its class allows. */
    FAILED,
    /** Terminal: stopped by request. */
    CANCELLED;

    public boolean terminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
