package org.ccalab.common.event;

/** Why an attempt failed; decides whether retrying can help (architecture.md, run lifecycle). */
public enum FailureClass {
    LOST_WORKER(true),
    DEVICE_ERROR(true),
    OUT_OF_MEMORY(false),
    INVALID_CONFIG(false),
    DIVERGED(false),
    CODE_ERROR(false);

    private final boolean retryable;

    FailureClass(boolean retryable) {
        this.retryable = retryable;
    }

    public boolean retryable() {
        return retryable;
    }
}
