package org.ccalab.scheduler.sweep;

import java.util.UUID;

/** The validation step's finding for one run: null problem means the run may be dispatched. */
record Verdict(UUID runId, String problem) {
    boolean valid() {
        return problem == null;
    }
}
