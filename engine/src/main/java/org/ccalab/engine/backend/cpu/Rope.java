package org.ccalab.engine.backend.cpu;

/**
 * Rotate-half (NeoX) rotary embedding on a slice of each head (cca.md section 2 step 7, mla.md section 2):
 * channels [offset, offset + dims) of every head; pair i couples channels offset + i and offset + i + dims/2,
 * angle pos * base^(-2i / dims). The inverse (angle -phi) is the backward pass, since the map is orthogonal.
 */
public final class Rope {
    private final int dims;
    private final double[] invFreq; // [dims / 2]

    public Rope(int dims, double base) {
        if (dims % 2 != 0) throw new IllegalArgumentException("rotary dims must be even, got " + dims);
        this.dims = dims;
        this.invFreq = new double[dims / 2];
        for (int i = 0; i < dims / 2; i++) invFreq[i] = Math.pow(base, -2.0 * i / dims);
    }

    public int dims() {
        return dims;
    }

    /**
     * Rotates x [B, T, H, headDim] in place; token t of every sequence sits at position {@code pos0 + t}.
     * {@code inverse} rotates by -phi (the gradient of the forward rotation).
     */
    public void apply(double[] x, int batch, int tokens, int pos0, int heads, int headDim, int offset,
                      boolean inverse) {
        if (dims == 0) return;
        int half = dims / 2;
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < tokens; t++) {
                int pos = pos0 + t;
                for (int i = 0; i < half; i++) {
                    double phi = pos * invFreq[i];
                    double cos = Math.cos(phi), sin = inverse ? -Math.sin(phi) : Math.sin(phi);
                    for (int h = 0; h < heads; h++) {
                        int base = ((b * tokens + t) * heads + h) * headDim + offset;
                        double a = x[base + i], c = x[base + i + half];
                        x[base + i] = a * cos - c * sin;
                        x[base + i + half] = c * cos + a * sin;
                    }
                }
            }
        }
    }
}
