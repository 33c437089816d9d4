package org.ccalab.engine.backend.cuda;

import java.util.Arrays;

/**
 * What one flash forward wrote, for bit-for-bit comparisons between two kernels that must compute the same thing
 * (the persistent walk against the grid, TMA copies against cp.async): O and its rounding residual as bf16 bits, the
 * LSE as float bits (raw, so that NaN payloads and signed zeros count too).
 */
record ForwardBits(short[] o, short[] oLo, float[] lse) {
    boolean sameBits(ForwardBits b) {
        return Arrays.equals(o, b.o) && Arrays.equals(oLo, b.oLo) && Arrays.equals(floatBits(lse), floatBits(b.lse));
    }

    private static int[] floatBits(float[] x) {
        int[] r = new int[x.length];
        for (int i = 0; i < x.length; i++) r[i] = Float.floatToRawIntBits(x[i]);
        return r;
    }
}
