package org.ccalab.worker.execute;

import static org.assertj.core.api.Assertions.assertThat;

import org.ccalab.common.event.FailureClass;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.run.RunFailedException;
import org.junit.jupiter.api.Test;

/** The class decides whether the scheduler retries: only faults of the worker or device may be retried. */
class FailureClassifierTest {

    @Test
    void theEnginesOwnClassIsKept() {
        assertThat(FailureClassifier.classify(new RunFailedException(FailureClass.DIVERGED, "NaN")).failureClass())
                .isEqualTo(FailureClass.DIVERGED);
    }

    @Test
    void anInvalidSpecIsNotRetried() {
        var failure = FailureClassifier.classify(new InvalidConfigException("nHeads", "must divide dModel"));
        assertThat(failure.failureClass()).isEqualTo(FailureClass.INVALID_CONFIG);
        assertThat(failure.failureClass().retryable()).isFalse();
        assertThat(failure.message()).contains("nHeads");
    }

    @Test
    void outOfMemoryIsItsOwnClass() {
        assertThat(FailureClassifier.classify(new OutOfMemoryError("Java heap space")).failureClass())
                .isEqualTo(FailureClass.OUT_OF_MEMORY);
    }

    @Test
    void aMissingNativeLibraryIsADeviceErrorAndRetried() {
        var failure = FailureClassifier.classify(new UnsatisfiedLinkError("no JCudaDriver"));
        assertThat(failure.failureClass()).isEqualTo(FailureClass.DEVICE_ERROR);
        assertThat(failure.failureClass().retryable()).isTrue();
    }

    @Test
    void aBrokerThatTookNoEventLeavesTheRunToAnotherTry() {
        var failure = FailureClassifier.classify(new org.ccalab.worker.publish.EventPublisher.PublishException(
                "runs.events", new java.util.concurrent.TimeoutException("30 s")));
        assertThat(failure.failureClass()).isEqualTo(FailureClass.LOST_WORKER);
        assertThat(failure.failureClass().retryable()).isTrue();
    }

    @Test
    void anythingElseIsACodeErrorNamingTheException() {
        var failure = FailureClassifier.classify(new ArrayIndexOutOfBoundsException("Index 7 out of bounds for length 4"));
        assertThat(failure.failureClass()).isEqualTo(FailureClass.CODE_ERROR);
        assertThat(failure.message()).contains("ArrayIndexOutOfBoundsException", "Index 7");
    }
}
