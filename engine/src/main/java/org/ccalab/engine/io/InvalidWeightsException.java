package org.ccalab.engine.io;

/** A weights or tensor file that cannot be used, naming the file and the tensor at fault. */
public final class InvalidWeightsException extends RuntimeException {
    public InvalidWeightsException(String message) {
        super(message);
    }

    public InvalidWeightsException(String message, Throwable cause) {
        super(message, cause);
    }
}
