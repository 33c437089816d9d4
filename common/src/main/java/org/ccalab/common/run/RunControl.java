package org.ccalab.common.run;

import java.util.UUID;

/**
 * Topic {@code runs.control}, key = runId. CANCEL: stop at the next step boundary and report CANCELLED.
 * FENCE: the attempt was superseded; stop without reporting.
 */
public record RunControl(UUID runId, int attempt, Action action) {
    public enum Action { CANCEL, FENCE }
}
