package org.ccalab.worker.execute;

/** Why a running attempt is asked to stop at its next step boundary, which decides what it reports. */
public enum StopReason {
    /** runs.control CANCEL: report CANCELLED. */
    CANCEL,
    /** runs.control FENCE: the attempt was superseded; report nothing, the newer attempt speaks for the run. */
    FENCE,
    /** The worker is stopping: report FAILED(LOST_WORKER) or nothing, per ccalab.worker.release-on-shutdown. */
    SHUTDOWN
}
