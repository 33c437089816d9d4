package org.ccalab.engine.backend;

/**
 * A compute backend as hosts and benchmarks see it: a name recorded with every run ({@code cpu},
 * {@code cuda}) and a one-line description of the device (threads, GPU model, driver). The operations live
 * on the implementations; the CPU one ({@link org.ccalab.engine.backend.cpu.CpuBackend}) is the reference
 * every other backend is checked against.
 */
public interface Backend {
    /** Short stable name: {@code cpu} or {@code cuda}. */
    String name();

    /** Human-readable device facts, e.g. {@code cpu: 16 threads, float64}. */
    String describe();
}
