package org.ccalab.engine.run;

/** The observer asked the run to stop; thrown at the next step boundary. */
public final class RunStoppedException extends RuntimeException {
    public RunStoppedException(long step) {
        super("stopped at step " + step);
    }
}
