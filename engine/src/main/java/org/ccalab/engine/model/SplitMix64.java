package org.ccalab.engine.model;

import java.util.random.RandomGenerator;

/**
 * SplitMix64 (Steele, Lea, Flood 2014): a 64-bit state generator whose state can be read and restored,
 * which checkpoints need to resume data sampling bit-exactly (the JDK generators hide their state).
 */
public final class SplitMix64 implements RandomGenerator {
    private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;
    private long state;

    public SplitMix64(long seed) {
        this.state = seed;
    }

    public long state() {
        return state;
    }

    public void setState(long state) {
        this.state = state;
    }

    /** An independent generator for a named purpose (init, data, validation) derived from one seed. */
    public static SplitMix64 derive(long seed, String purpose) {
        return new SplitMix64(mix(seed ^ mix(purpose.hashCode() * GOLDEN_GAMMA)));
    }

    @Override
    public long nextLong() {
        return mix(state += GOLDEN_GAMMA);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
