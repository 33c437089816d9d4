/**
 * The CPU reference backend: float64, multithreaded over one shared ForkJoinPool, cache-blocked. Each fast
 * kernel has a plain-loop twin it is tested against ({@link org.ccalab.engine.backend.cpu.ReferenceKernels},
 * {@link org.ccalab.engine.backend.cpu.ReferenceAttention}). Every output element has exactly one writing
 * task and a fixed summation order, so results are bit-identical for any number of threads.
 */
package org.ccalab.engine.backend.cpu;
