package org.ccalab.common.variant;

import org.ccalab.common.validation.Check;

/**
 * Rotary embedding on the first {@code fraction} of each head's channels, rotate-half (NeoX) pairing,
 * angle pos * base^(-2i/r) for r rotary channels (cca.md section 2 step 7). fraction 0 disables RoPE.
 */
public record RopeSpec(double fraction, double base) {
    public static final RopeSpec FULL = new RopeSpec(1.0, 10_000.0);
    public static final RopeSpec HALF = new RopeSpec(0.5, 10_000.0);

    public RopeSpec {
        Check.faults().inRange("fraction", fraction, 0.0, 1.0).inRange("base", base, 1.0, 1e9).throwIfAny();
    }

    /** Rotary channels of a head of width {@code headDim}; always even. */
    public int rotaryDims(int headDim) {
        int r = (int) Math.round(fraction * headDim);
        return r - (r % 2);
    }
}
