package org.ccalab.engine.run;

import org.ccalab.common.event.FailureClass;

/**
 * The CPU engine holds each activation in one Java array, so no buffer may exceed 2^31 - 9 elements.
 * A larger request is an out-of-memory at a fixed size (retrying cannot help), reported before any
 * allocation rather than as an overflowed array size.
 */
final class CpuLimits {
    static final long MAX_ARRAY = Integer.MAX_VALUE - 8L;

    private CpuLimits() {}

    static void requireArray(String what, long elements) {
        if (elements > MAX_ARRAY)
            throw new RunFailedException(FailureClass.OUT_OF_MEMORY,
                    what + " needs " + elements + " float64 elements, over the CPU engine's per-array limit of " + MAX_ARRAY);
    }
}
