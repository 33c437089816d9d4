-- Why: reproducibility. Every attempt records exactly what produced it (code, kernels, device,
-- driver, JVM, host), reported by the worker with STARTED; an attempt has one environment.

CREATE TABLE run_environment (
    run_id            uuid        NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    attempt           integer     NOT NULL CHECK (attempt >= 1),
    git_commit        text        NOT NULL,
    git_dirty         boolean     NOT NULL,
    engine_version    text        NOT NULL,
    kernel_build_hash text        NOT NULL,
    backend           text        NOT NULL,
    gpu_model         text        NOT NULL,
    driver_version    text        NOT NULL,
    cuda_version      text        NOT NULL,
    jvm               text        NOT NULL,
    host              text        NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, attempt)
);
