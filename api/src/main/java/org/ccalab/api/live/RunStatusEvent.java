package org.ccalab.api.live;

import java.time.Instant;
import java.util.UUID;
import org.ccalab.api.run.RunRow;

/** The {@code status} event of a run's live feed: its lifecycle fields, sent whenever one changes. */
public record RunStatusEvent(UUID runId, String status, int attempt, int maxAttempts, String workerId, String failureClass,
                             String failureMessage, Instant dispatchedAt, Instant startedAt, Instant finishedAt,
                             Instant lastHeartbeatAt, Instant cancelRequestedAt, Instant updatedAt) {
    static RunStatusEvent of(RunRow r) {
        return new RunStatusEvent(r.id(), r.status(), r.attempt(), r.maxAttempts(), r.workerId(), r.failureClass(),
                r.failureMessage(), r.dispatchedAt(), r.startedAt(), r.finishedAt(), r.lastHeartbeatAt(),
                r.cancelRequestedAt(), r.updatedAt());
    }

    /** What must differ for a new status event; a heartbeat alone does not make one. */
    String signature() {
        return status + "|" + attempt + "|" + workerId + "|" + failureClass + "|" + finishedAt + "|" + cancelRequestedAt
                + "|" + startedAt + "|" + dispatchedAt;
    }
}
