package org.ccalab.common.event;

import org.ccalab.common.run.Phase;
import org.ccalab.common.run.Scope;

/**
 * One measured cell: a variant at (batch, seqLen) in one phase and scope on one backend. Latencies in
 * milliseconds; tflops and bytesPerSecond from the variant's exact cost model; errors against the
 * float64 reference (NaN when not measured, e.g. shapes too large for the reference).
 */
public record BenchmarkCell(Phase phase, Scope scope, boolean causal, int batch, int seqLen, String dtype,
                            String backend, double p10Ms, double p50Ms, double p90Ms, double tflops,
                            double bytesPerSecond, long peakMemoryBytes, long kvBytesPerToken,
                            double maxAbsError, double maxRelError) {}
