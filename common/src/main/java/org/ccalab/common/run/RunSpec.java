package org.ccalab.common.run;

import com.fasterxml.jackson.annotation.JsonIgnore;
import org.ccalab.common.validation.Check;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.AttentionConfig;

/**
 * Everything that determines a run's result: kind, variant, seed and the kind's parameters (exactly one
 * of {@code benchmark} and {@code training} is set, matching {@code kind}). Its canonical JSON is hashed
 * into the run's config hash.
 */
public record RunSpec(RunKind kind, AttentionConfig variant, long seed, BenchmarkSpec benchmark, TrainingSpec training) {
    public RunSpec {
        Check.that(kind != null, "kind", "is required (BENCHMARK or TRAINING)");
        Check.that(variant != null, "variant", "is required");
        if (kind == RunKind.BENCHMARK) {
            Check.that(benchmark != null, "benchmark", "is required for a BENCHMARK run");
            Check.that(training == null, "training", "must be absent for a BENCHMARK run");
        } else {
            Check.that(training != null, "training", "is required for a TRAINING run");
            Check.that(benchmark == null, "benchmark", "must be absent for a TRAINING run");
            if (training.seqLen() < 2) throw new InvalidConfigException("training.seqLen", "must be >= 2");
        }
    }

    /**
     * Whether the run asks for a deterministic backward ({@code benchmark.deterministic} or
     * {@code training.deterministic}): every backward it computes gives the same bits on every attempt. The CPU
     * engine is deterministic whatever this says; the CUDA engine runs its ordered-add ("_det") attention backward,
     * and fails the run as INVALID_CONFIG where a backward the run needs has no deterministic form on it, rather
     * than run it in atomic order. A worker started with {@code -Dccalab.flash.deterministic=true} treats every
     * run as asking. Not a record component: the field lives in the kind's spec, so it binds, validates and sweeps
     * (a grid axis) like the kind's other fields.
     */
    @JsonIgnore
    public boolean deterministic() {
        return benchmark != null ? benchmark.deterministic() : training != null && training.deterministic();
    }
}
