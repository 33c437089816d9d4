package org.ccalab.engine.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/**
 * Splits an index range over a ForkJoinPool. Each index is processed by exactly one task and every result
 * element is written by one task only, so results do not depend on the number of threads.
 */
public final class Parallel {
    /** Body over a half-open range [from, to). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    private final ForkJoinPool pool;

    public Parallel(ForkJoinPool pool) {
        this.pool = pool;
    }

    public int threads() {
        return pool.getParallelism();
    }

    /**
     * Runs {@code body} over [0, n) in chunks of at least {@code grain} indices; inline when the work is one
     * chunk, so small problems never pay for task overhead.
     */
    public void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        int g = Math.max(1, grain);
        if (n <= g || pool.getParallelism() == 1) {
            body.run(0, n);
        } else if (java.util.concurrent.ForkJoinTask.getPool() == pool) {
            new Split(0, n, g, body).invoke();
        } else {
            pool.invoke(new Split(0, n, g, body));
        }
    }

    private static final class Split extends RecursiveAction {
        private final int from, to, grain;
        private final RangeBody body;

        Split(int from, int to, int grain, RangeBody body) {
            this.from = from;
            this.to = to;
            this.grain = grain;
            this.body = body;
        }

        @Override
        protected void compute() {
            if (to - from <= grain) {
                body.run(from, to);
                return;
            }
            int mid = (from + to) >>> 1;
            invokeAll(new Split(from, mid, grain, body), new Split(mid, to, grain, body));
        }
    }
}
