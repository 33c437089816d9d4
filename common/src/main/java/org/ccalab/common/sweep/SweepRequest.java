package org.ccalab.common.sweep;

import java.util.List;
import java.util.Map;
import org.ccalab.common.run.RunKind;

/**
 * The sweep part of an experiment request, as parsed JSON: the variants (each an object with its
 * {@code family}), a grid of parameter values, and the base spec of the kind ({@code benchmark} for a
 * BENCHMARK sweep, {@code training} for a TRAINING one). Grid keys are {@code seed} and any field of the
 * base spec; the runs are variants x cartesian(grid), the last grid key varying fastest.
 * Loose types on purpose: {@link SweepExpander} binds them and names the path of every fault.
 */
public record SweepRequest(RunKind kind, List<?> variants, Map<String, ?> grid, Map<String, ?> benchmark,
                           Map<String, ?> training) {}
