package org.ccalab.engine.backend.cuda;

/** bfloat16 <-> float/double on the host, round-to-nearest-even like __float2bfloat16_rn. */
public final class Bf16 {
    private Bf16() {}

    public static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) 0x7FC0;
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float toFloat(short h) {
        return Float.intBitsToFloat((h & 0xFFFF) << 16);
    }

    public static short[] fromDoubles(double[] x) {
        short[] out = new short[x.length];
        for (int i = 0; i < x.length; i++) out[i] = fromFloat((float) x[i]);
        return out;
    }

    public static double[] toDoubles(short[] h) {
        double[] out = new double[h.length];
        for (int i = 0; i < h.length; i++) out[i] = toFloat(h[i]);
        return out;
    }
}
