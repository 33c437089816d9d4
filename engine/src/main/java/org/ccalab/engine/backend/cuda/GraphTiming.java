package org.ccalab.engine.backend.cuda;

import java.util.Arrays;
import java.util.function.IntConsumer;

/**
 * Per-call device time of a short body (a decode step) replayed from one CUDA graph of {@link #CALLS} calls. Eager
 * launches through JCuda leave ~10-20 us host gaps between kernels, more than a batch-1 decode kernel runs, so an
 * event pair around eager calls measures the host; a graph replay runs the calls back to back, as a serving loop
 * that replays graphs does.
 *
 * <p>The body gets the call index; callers rotate over {@link #coldCopies} copies of their inputs so that a call
 * never finds its KV cache (or weights) still in the L2 from the previous call: the H100's L2 holds 50 MB, a batch-1
 * cache at 16k with 2 KV heads 16.8 MB.
 */
final class GraphTiming {
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(GraphTiming.class.getName());
    /** Calls per captured graph: a replay lasts well above the event timer's resolution. */
    static final int CALLS = 20;
    /** Bytes a rotation must cover before a copy is read again: 2.5x the largest L2 we run on (H100, 50 MB). */
    static final long L2_COLD_BYTES = 128L << 20;

    private GraphTiming() {}

    /** How many copies of a body's {@code bytesPerCopy} inputs keep each call L2-cold (1 to {@link #CALLS}). */
    static int coldCopies(long bytesPerCopy) {
        if (bytesPerCopy <= 0) throw new IllegalArgumentException("bytes per copy must be positive, got " + bytesPerCopy);
        return (int) Math.max(1, Math.min(CALLS, (L2_COLD_BYTES + bytesPerCopy - 1) / bytesPerCopy));
    }

    /**
     * {p10, p50, p90} milliseconds per call over {@code replays} replays of one graph of {@link #CALLS} calls,
     * after {@code warmup} eager calls; null where the body cannot be captured (the caller then times eagerly).
     */
    static double[] time(CudaDevice device, int warmup, int replays, IntConsumer body) {
        if (replays < 1) throw new IllegalArgumentException("replays must be positive, got " + replays);
        for (int i = 0; i < warmup; i++) body.accept(i);
        device.synchronize();
        double[] ms = new double[replays];
        try (CudaDevice.CapturedGraph g = device.new CapturedGraph(() -> {
                 for (int k = 0; k < CALLS; k++) body.accept(k);
             });
             CudaDevice.Timer t = device.new Timer()) {
            g.launch();
            device.synchronize();
            for (int r = 0; r < replays; r++) {
                t.start();
                g.launch();
                ms[r] = t.stopMillis() / CALLS;
            }
        } catch (jcuda.CudaException e) {
            LOG.warning(() -> "CUDA graph capture of a timed body failed: " + e.getMessage());
            return null;
        }
        return percentiles(ms);
    }

    /** {p10, p50, p90} of the samples (sorted in place). */
    static double[] percentiles(double[] ms) {
        Arrays.sort(ms);
        int n = ms.length;
        return new double[] {ms[n / 10], ms[n / 2], ms[Math.min(n - 1, n * 9 / 10)]};
    }
}
