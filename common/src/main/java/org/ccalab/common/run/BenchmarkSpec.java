package org.ccalab.common.run;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import org.ccalab.common.validation.Check;

/**
 * One benchmark run: one variant timed at one (batch, seqLen) for each phase and scope listed.
 * Nulls take defaults: all phases, both scopes, causal, bf16, 3 warm-up and 10 timed iterations, not deterministic
 * ({@code deterministic}: the BACKWARD phase times a backward that gives the same bits on every run; see
 * {@link RunSpec#deterministic()}; written to JSON only when true, so a spec that does not ask keeps the JSON, and the
 * config hash, it had before the option existed).
 */
public record BenchmarkSpec(int batch, int seqLen, List<Phase> phases, List<Scope> scopes, Boolean causal,
                            String dtype, Integer warmup, Integer iterations,
                            @JsonInclude(JsonInclude.Include.NON_DEFAULT) Boolean deterministic) {
    public static final int MAX_SEQ_LEN = 131_072;
    public static final int MAX_BATCH = 256;
    public static final List<String> DTYPES = List.of("bf16", "fp16", "fp32", "fp64");

    public BenchmarkSpec {
        if (phases == null || phases.isEmpty()) phases = List.of(Phase.values());
        if (scopes == null || scopes.isEmpty()) scopes = List.of(Scope.values());
        phases = List.copyOf(phases);
        scopes = List.copyOf(scopes);
        if (causal == null) causal = true;
        if (dtype == null) dtype = "bf16";
        if (warmup == null) warmup = 3;
        if (iterations == null) iterations = 10;
        if (deterministic == null) deterministic = false;
        // Every value is judged alone (no rule spans two), and every fault is reported together.
        Check.faults()
                .inRange("batch", batch, 1, MAX_BATCH)
                .inRange("seqLen", seqLen, 1, MAX_SEQ_LEN)
                .that(DTYPES.contains(dtype), "dtype", "must be one of " + DTYPES + ", got " + dtype)
                .inRange("warmup", warmup, 0, 1000)
                .inRange("iterations", iterations, 1, 10_000)
                .throwIfAny();
    }

    /** Bytes per stored element of {@code dtype} (bf16, fp16: 2; fp32: 4; fp64: 8): what KV-cache sizes are in. */
    @JsonIgnore
    public int dtypeBytes() {
        return dtypeBytes(dtype);
    }

    public static int dtypeBytes(String dtype) {
        return switch (dtype) {
            case "bf16", "fp16" -> 2;
            case "fp32" -> 4;
            case "fp64" -> 8;
            default -> throw new IllegalArgumentException("dtype must be one of " + DTYPES + ", got " + dtype);
        };
    }

    /** Without {@code deterministic} (false). */
    public BenchmarkSpec(int batch, int seqLen, List<Phase> phases, List<Scope> scopes, Boolean causal, String dtype,
                         Integer warmup, Integer iterations) {
        this(batch, seqLen, phases, scopes, causal, dtype, warmup, iterations, null);
    }
}
