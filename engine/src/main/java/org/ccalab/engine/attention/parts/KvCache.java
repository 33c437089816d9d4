package org.ccalab.engine.attention.parts;

/**
 * Keys and values of every decoded token for a batch of sequences, grown by doubling. Layout as the
 * attention kernel reads it: k [B, capacity, Hkv, Dk], v [B, capacity, Hkv, Dv].
 */
public final class KvCache {
    private final int batch, heads, kDim, vDim;
    private int capacity, length;
    private double[] k, v;

    public KvCache(int batch, int heads, int kDim, int vDim) {
        this.batch = batch;
        this.heads = heads;
        this.kDim = kDim;
        this.vDim = vDim;
        this.capacity = 16;
        this.k = new double[batch * capacity * heads * kDim];
        this.v = new double[batch * capacity * heads * vDim];
    }

    /** Appends one token per sequence: kRow [B, Hkv, Dk], vRow [B, Hkv, Dv]. */
    public void append(double[] kRow, double[] vRow) {
        if (length == capacity) grow();
        int kw = heads * kDim, vw = heads * vDim;
        for (int b = 0; b < batch; b++) {
            System.arraycopy(kRow, b * kw, k, (b * capacity + length) * kw, kw);
            System.arraycopy(vRow, b * vw, v, (b * capacity + length) * vw, vw);
        }
        length++;
    }

    /** Appends T tokens per sequence: k [B, T, Hkv, Dk], v [B, T, Hkv, Dv]. */
    public void append(double[] k, double[] v, int tokens) {
        while (length + tokens > capacity) grow();
        int kw = heads * kDim, vw = heads * vDim;
        for (int b = 0; b < batch; b++) {
            System.arraycopy(k, b * tokens * kw, this.k, (b * capacity + length) * kw, tokens * kw);
            System.arraycopy(v, b * tokens * vw, this.v, (b * capacity + length) * vw, tokens * vw);
        }
        length += tokens;
    }

    private void grow() {
        int bigger = capacity * 2, kw = heads * kDim, vw = heads * vDim;
        double[] k2 = new double[batch * bigger * kw], v2 = new double[batch * bigger * vw];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(k, b * capacity * kw, k2, b * bigger * kw, length * kw);
            System.arraycopy(v, b * capacity * vw, v2, b * bigger * vw, length * vw);
        }
        k = k2;
        v = v2;
        capacity = bigger;
    }

    public double[] keys() {
        return k;
    }

    public double[] values() {
        return v;
    }

    public int capacity() {
        return capacity;
    }

    public int length() {
        return length;
    }

    /** Bytes of the live entries (not the spare capacity) at the given element size. */
    public long bytes(int bytesPerElement) {
        return (long) batch * length * heads * (kDim + vDim) * bytesPerElement;
    }
}
