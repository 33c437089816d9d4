package org.ccalab.scheduler.run;

import java.util.UUID;

/** A run row read under {@code FOR UPDATE}: what a state transition needs to decide. */
public record LockedRun(UUID id, UUID experimentId, RunStatus status, int attempt, int maxAttempts,
                        boolean cancelRequested, String lastCheckpointUri) {
    public boolean leased() {
        return status == RunStatus.DISPATCHED || status == RunStatus.RUNNING;
    }
}
