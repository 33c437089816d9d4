package org.ccalab.worker.execute;

import org.ccalab.common.event.Failure;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.run.RunFailedException;
import org.ccalab.worker.publish.EventPublisher;

/** Maps what an engine run threw to the failure class the scheduler bases its retry decision on. */
final class FailureClassifier {
    private FailureClassifier() {}

    static Failure classify(Throwable t) {
        return switch (t) {
            case RunFailedException e -> new Failure(e.failureClass(), e.getMessage());
            // The broker did not take an event: the run itself is fine, another worker (or a later try) can finish it.
            case EventPublisher.PublishException e -> new Failure(FailureClass.LOST_WORKER, e.getMessage());
            case InvalidConfigException e -> new Failure(FailureClass.INVALID_CONFIG, e.getMessage());
            case OutOfMemoryError e -> new Failure(FailureClass.OUT_OF_MEMORY, "out of memory: " + e.getMessage());
            // A missing native library or driver (JCuda) is the device's fault, not the run's: retry elsewhere.
            case LinkageError e -> new Failure(FailureClass.DEVICE_ERROR, e.toString());
            default -> new Failure(FailureClass.CODE_ERROR, t.toString());
        };
    }
}
