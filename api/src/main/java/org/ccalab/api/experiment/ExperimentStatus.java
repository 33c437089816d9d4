package org.ccalab.api.experiment;

/** Derived from the runs by the scheduler (see the {@code experiment.status} CHECK constraint). */
public enum ExperimentStatus {
    QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

    public boolean terminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED;
    }
}
