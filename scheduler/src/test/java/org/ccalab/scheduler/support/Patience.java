package org.ccalab.scheduler.support;

import java.time.Duration;

/**
 * How long a test waits for something that must happen. Generous on purpose: CI runs the whole build on
 * two cores, where a broker round trip can take seconds; a passing condition returns at once anyway.
 */
public final class Patience {
    private Patience() {}

    public static final Duration PATIENCE = Duration.ofSeconds(60);
}
