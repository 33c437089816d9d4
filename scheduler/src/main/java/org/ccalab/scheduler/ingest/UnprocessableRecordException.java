package org.ccalab.scheduler.ingest;

/**
 * A record that can never be applied however often it is retried (unknown run, impossible attempt,
 * missing field): the error handler sends it straight to the dead-letter topic.
 */
public class UnprocessableRecordException extends RuntimeException {
    public UnprocessableRecordException(String message) {
        super(message);
    }
}
