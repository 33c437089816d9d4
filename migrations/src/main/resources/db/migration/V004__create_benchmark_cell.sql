-- Why: benchmark measurements, one row per measured cell. The unique key is the cell's identity
-- within a run, so a replayed or retried measurement replaces the cell instead of duplicating it.

CREATE TABLE benchmark_cell (
    id                 bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id             uuid             NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    attempt            integer          NOT NULL CHECK (attempt >= 1),
    phase              text             NOT NULL CHECK (phase IN ('FORWARD', 'BACKWARD', 'DECODE')),
    scope              text             NOT NULL CHECK (scope IN ('CORE', 'LAYER')),
    causal             boolean          NOT NULL,
    batch              integer          NOT NULL CHECK (batch >= 1),
    seq_len            integer          NOT NULL CHECK (seq_len >= 1),
    dtype              text             NOT NULL CHECK (dtype IN ('bf16', 'fp16', 'fp32', 'fp64')),
    backend            text             NOT NULL CHECK (char_length(backend) BETWEEN 1 AND 64),
    p10_ms             double precision NOT NULL CHECK (p10_ms >= 0),
    p50_ms             double precision NOT NULL CHECK (p50_ms >= p10_ms),
    p90_ms             double precision NOT NULL CHECK (p90_ms >= p50_ms),
    tflops             double precision CHECK (tflops >= 0),
    bytes_per_s        double precision CHECK (bytes_per_s >= 0),
    peak_memory_bytes  bigint           CHECK (peak_memory_bytes >= 0),
    kv_bytes_per_token bigint           CHECK (kv_bytes_per_token >= 0),
    -- NaN when not measured (shape too large for the float64 reference).
    max_abs_error      double precision,
    max_rel_error      double precision,
    created_at         timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT benchmark_cell_identity_key UNIQUE (run_id, phase, scope, causal, batch, seq_len, dtype)
);
