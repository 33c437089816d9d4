package org.ccalab.engine.run;

import org.ccalab.common.event.FailureClass;

/** A run that cannot finish, classified so that the scheduler knows whether a retry can help. */
public final class RunFailedException extends RuntimeException {
    private final FailureClass failureClass;

    public RunFailedException(FailureClass failureClass, String message, Throwable cause) {
        super(message, cause);
        this.failureClass = failureClass;
    }

    public RunFailedException(FailureClass failureClass, String message) {
        this(failureClass, message, null);
    }

    public FailureClass failureClass() {
        return failureClass;
    }
}
