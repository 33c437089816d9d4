package org.ccalab.engine.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import org.ccalab.engine.backend.Backend;

/**
 * The pure-Java float64 backend: the reference every other backend is checked against and the path CI runs.
 * Its kernels ({@link Matmul}, {@link AttentionKernel}) share one ForkJoinPool, so nested parallel loops
 * (a layer inside a batch-parallel trainer) never oversubscribe the machine.
 *
 * <p>Refuses on purpose: lower precisions (it computes in double), in-place aliasing of inputs and outputs.
 */
public final class CpuBackend implements Backend {
    private final Parallel parallel;
    private final Matmul matmul;
    private final AttentionKernel attention;

    public CpuBackend(ForkJoinPool pool) {
        this.parallel = new Parallel(pool);
        this.matmul = new Matmul(parallel);
        this.attention = new AttentionKernel(parallel);
    }

    /**
     * Over the engine's shared pool: one daemon worker per core (the common pool has one less, and none at
     * all on a two-core machine). Threads can be capped with the system property {@code engine.cpu.threads}.
     */
    public static CpuBackend create() {
        return new CpuBackend(SharedPool.POOL);
    }

    private static final class SharedPool {
        static final ForkJoinPool POOL = new ForkJoinPool(Integer.getInteger("engine.cpu.threads",
                Runtime.getRuntime().availableProcessors()), pool -> {
                    var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                    t.setDaemon(true);
                    t.setName("engine-cpu-" + t.getPoolIndex());
                    return t;
                }, null, false);
    }

    public Parallel parallel() {
        return parallel;
    }

    public Matmul matmul() {
        return matmul;
    }

    public AttentionKernel attention() {
        return attention;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String describe() {
        return "cpu: " + parallel.threads() + " threads, float64, " + System.getProperty("os.arch") + ", "
                + Runtime.getRuntime().availableProcessors() + " cores";
    }
}
