package org.ccalab.engine.attention.parts;

/**
 * Keys and values of the last W decoded tokens of a batch of sequences (the whole state a sliding-window layer
 * of window W needs): a ring of W rows, position p in row p mod W, so the state stops growing at W tokens.
 * Until it first fills, the ring grows by doubling (capped at W) and holds positions 0 .. p in rows 0 .. p,
 * so a huge window costs nothing for short sequences. Layout as the attention kernel's decode reads it:
 * k [B, capacity, Hkv, Dk], v [B, capacity, Hkv, Dv]; the {@link #length()} live rows are the window in
 * ring order, which a single-query softmax does not care about.
 */
public final class WindowKvCache {
    private final int batch, heads, kDim, vDim, window;
    private int capacity, position;
    private double[] k, v;

    public WindowKvCache(int batch, int heads, int kDim, int vDim, int window) {
        if (window < 1) throw new IllegalArgumentException("window must be >= 1, got " + window);
        this.batch = batch;
        this.heads = heads;
        this.kDim = kDim;
        this.vDim = vDim;
        this.window = window;
        this.capacity = Math.min(16, window);
        this.k = new double[batch * capacity * heads * kDim];
        this.v = new double[batch * capacity * heads * vDim];
    }

    /** Appends T tokens per sequence, k [B, T, Hkv, Dk], v [B, T, Hkv, Dv]; only the last W are kept. */
    public void append(double[] kNew, double[] vNew, int tokens) {
        int kw = heads * kDim, vw = heads * vDim;
        for (int t = Math.max(0, tokens - window); t < tokens; t++) {
            int pos = position + t;
            while (pos >= capacity && capacity < window) grow();
            int row = pos % capacity;
            for (int b = 0; b < batch; b++) {
                System.arraycopy(kNew, (b * tokens + t) * kw, k, (b * capacity + row) * kw, kw);
                System.arraycopy(vNew, (b * tokens + t) * vw, v, (b * capacity + row) * vw, vw);
            }
        }
        position += tokens;
    }

    /** Only before the ring first wraps (position <= capacity), so rows keep their positions. */
    private void grow() {
        int bigger = Math.min(window, capacity * 2), kw = heads * kDim, vw = heads * vDim;
        double[] k2 = new double[batch * bigger * kw], v2 = new double[batch * bigger * vw];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(k, b * capacity * kw, k2, b * bigger * kw, capacity * kw);
            System.arraycopy(v, b * capacity * vw, v2, b * bigger * vw, capacity * vw);
        }
        k = k2;
        v = v2;
        capacity = bigger;
    }

    /** Keys and values of {@code rows} consecutive positions, oldest first: k [B, rows, Hkv, Dk], v [B, rows, Hkv, Dv]. */
    public record Rows(double[] k, double[] v, int rows) {}

    /**
     * The last min(length, W - 1) cached positions in order followed by a chunk of T new tokens (not yet
     * appended): every key a windowed query of the chunk can see, laid out for the chunked kernel.
     */
    public Rows withChunk(double[] kNew, double[] vNew, int tokens) {
        int keep = Math.min(length(), window - 1), rows = keep + tokens, kw = heads * kDim, vw = heads * vDim;
        double[] kOut = new double[batch * rows * kw], vOut = new double[batch * rows * vw];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < keep; i++) {
                int row = (position - keep + i) % capacity;
                System.arraycopy(k, (b * capacity + row) * kw, kOut, (b * rows + i) * kw, kw);
                System.arraycopy(v, (b * capacity + row) * vw, vOut, (b * rows + i) * vw, vw);
            }
            System.arraycopy(kNew, b * tokens * kw, kOut, (b * rows + keep) * kw, tokens * kw);
            System.arraycopy(vNew, b * tokens * vw, vOut, (b * rows + keep) * vw, tokens * vw);
        }
        return new Rows(kOut, vOut, rows);
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

    /** Tokens consumed so far. */
    public int position() {
        return position;
    }

    /** Live rows: min(position, W). */
    public int length() {
        return Math.min(position, window);
    }

    /** Bytes of the live rows (never more than W per sequence) at the given element size. */
    public long bytes(int bytesPerElement) {
        return (long) batch * length() * heads * (kDim + vDim) * bytesPerElement;
    }
}
