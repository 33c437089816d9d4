package org.ccalab.api.run;

/** The run lifecycle of docs/contracts.md, as the {@code run.status} CHECK constraint spells it. */
public enum RunStatus {
    QUEUED, DISPATCHED, RUNNING, RETRYING, SUCCEEDED, FAILED, CANCELLED;

    public boolean terminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
