-- Why: the ingest log. Ingestion is idempotent because the primary key (run_id, attempt, seq) is
-- inserted in the effect's transaction with ON CONFLICT DO NOTHING: a redelivered event inserts
-- nothing and is skipped. event_id is unique as a second guard against a producer reusing a seq.

CREATE TABLE run_event (
    run_id      uuid        NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL CHECK (attempt >= 1),
    seq         bigint      NOT NULL CHECK (seq >= 0),
    event_id    uuid        NOT NULL,
    type        text        NOT NULL CHECK (type IN ('STARTED', 'HEARTBEAT', 'METRICS', 'BENCHMARK_CELLS',
                                                     'CHECKPOINT', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    time        timestamptz NOT NULL,
    payload     jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, attempt, seq),
    CONSTRAINT run_event_event_id_key UNIQUE (event_id)
);
