package org.ccalab.common.run;

/** Kafka topic names, one place. */
public final class Topics {
    private Topics() {}

    public static final String RUNS_REQUESTED = "runs.requested";
    public static final String RUNS_EVENTS = "runs.events";
    public static final String RUNS_CONTROL = "runs.control";
    public static final String WORKERS = "workers.status";
    /** Spring Kafka's DeadLetterPublishingRecoverer default suffix. */
    public static final String DLT_SUFFIX = "-dlt";
}
