package org.ccalab.scheduler.run;

/** The run lifecycle of docs/contracts.md; the database's run_status_check holds the same list. */
public enum RunStatus {
    QUEUED, DISPATCHED, RUNNING, RETRYING, SUCCEEDED, FAILED, CANCELLED;

    public boolean terminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
