package org.ccalab.engine.model;

import java.util.stream.IntStream;

/**
 * Linear-layer kernels in PyTorch layout, W [out, in]: y = x W^T. Every output element is summed by one
 * thread in a fixed order, so results do not depend on the thread count (training stays bit-exact).
 * Rows are split across the common fork-join pool only when a call has enough work to pay for it.
 */
public final class Dense {
    private Dense() {}

    /** Below this many multiply-adds a call stays on the caller's thread. */
    private static final long PARALLEL_THRESHOLD = 1L << 16;
    private static final int ROW_BLOCK = 4;
    private static final int ROW_TILE = 64;
    private static final int OUT_TILE = 128;

    /** y [n, out] = x [n, in] W^T, W [out, in]. */
    public static void forward(double[] y, double[] x, double[] w, int n, int in, int out) {
        // Tiles of ROW_TILE rows x OUT_TILE outputs: a tile's slice of W (OUT_TILE x in) stays in L2 while
        // every row of the tile passes over it, instead of W (the tied head: V x E, megabytes) streaming from
        // memory once per four rows.
        int rowTiles = (n + ROW_TILE - 1) / ROW_TILE;
        int outTiles = (out + OUT_TILE - 1) / OUT_TILE;
        parallel(rowTiles * outTiles, (long) n * in * out, t -> {
            int r0 = (t / outTiles) * ROW_TILE, r1 = Math.min(n, r0 + ROW_TILE);
            int o0 = (t % outTiles) * OUT_TILE, o1 = Math.min(out, o0 + OUT_TILE);
            int r = r0;
            for (; r + ROW_BLOCK <= r1; r += ROW_BLOCK) forwardBlock4(y, x, w, r, in, out, o0, o1);
            for (; r < r1; r++) forwardRow(y, x, w, r, in, out, o0, o1);
        });
    }

    // Four rows of x share each load of a row of W.
    private static void forwardBlock4(double[] y, double[] x, double[] w, int r0, int in, int out, int o0, int o1) {
        int x0 = r0 * in, x1 = x0 + in, x2 = x1 + in, x3 = x2 + in;
        for (int o = o0; o < o1; o++) {
            int wo = o * in;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            for (int i = 0; i < in; i++) {
                double wi = w[wo + i];
                s0 += x[x0 + i] * wi;
                s1 += x[x1 + i] * wi;
                s2 += x[x2 + i] * wi;
                s3 += x[x3 + i] * wi;
            }
            y[r0 * out + o] = s0;
            y[(r0 + 1) * out + o] = s1;
            y[(r0 + 2) * out + o] = s2;
            y[(r0 + 3) * out + o] = s3;
        }
    }

    private static void forwardRow(double[] y, double[] x, double[] w, int r, int in, int out, int o0, int o1) {
        int xr = r * in;
        for (int o = o0; o < o1; o++) {
            int wo = o * in;
            double s = 0;
            for (int i = 0; i < in; i++) s += x[xr + i] * w[wo + i];
            y[r * out + o] = s;
        }
    }

    /** dx [n, in] += dy [n, out] W, W [out, in]. */
    public static void backwardInput(double[] dx, double[] dy, double[] w, int n, int in, int out) {
        // Row tiles run in parallel; inside one, W is walked OUT_TILE rows at a time for every row of the
        // tile so the slice stays cached. Each dx row still sums over o in increasing order.
        int rowTiles = (n + ROW_TILE - 1) / ROW_TILE;
        parallel(rowTiles, (long) n * in * out, t -> {
            int r0 = t * ROW_TILE, r1 = Math.min(n, r0 + ROW_TILE);
            for (int o0 = 0; o0 < out; o0 += OUT_TILE) {
                int o1 = Math.min(out, o0 + OUT_TILE);
                for (int r = r0; r < r1; r++) {
                    int xr = r * in;
                    int yr = r * out;
                    for (int o = o0; o < o1; o++) {
                        double g = dy[yr + o];
                        if (g == 0.0) continue;
                        int wo = o * in;
                        for (int i = 0; i < in; i++) dx[xr + i] += g * w[wo + i];
                    }
                }
            }
        });
    }

    /** dW [out, in] += dy^T [out, n] x [n, in]. */
    public static void backwardWeight(double[] dw, double[] dy, double[] x, int n, int in, int out) {
        // Output tiles run in parallel; each reads its OUT_TILE contiguous gradients per row of dy instead of
        // one strided element per row, and keeps its slice of dW cached. Each dW row sums over r in order.
        int outTiles = (out + OUT_TILE - 1) / OUT_TILE;
        parallel(outTiles, (long) n * in * out, t -> {
            int o0 = t * OUT_TILE, o1 = Math.min(out, o0 + OUT_TILE);
            for (int r = 0; r < n; r++) {
                int xr = r * in;
                int yr = r * out;
                for (int o = o0; o < o1; o++) {
                    double g = dy[yr + o];
                    if (g == 0.0) continue;
                    int wo = o * in;
                    for (int i = 0; i < in; i++) dw[wo + i] += g * x[xr + i];
                }
            }
        });
    }

    /** Runs {@code body} for 0..count-1, in parallel when {@code work} multiply-adds justify it. */
    public static void parallel(int count, long work, java.util.function.IntConsumer body) {
        if (work < PARALLEL_THRESHOLD || count < 2) {
            for (int i = 0; i < count; i++) body.accept(i);
        } else {
            IntStream.range(0, count).parallel().forEach(body);
        }
    }
}
