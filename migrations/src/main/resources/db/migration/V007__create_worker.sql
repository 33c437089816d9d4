-- Why: the workers announce themselves on workers.status; the scheduler keeps the latest status
-- here, sizes dispatch to the workers seen recently (last_seen_at), and the api lists them.
-- current_run_id is informative, so deleting a run clears it instead of failing.

CREATE TABLE worker (
    id                  text        PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 200),
    backend             text        NOT NULL,
    device              text        NOT NULL,
    device_memory_bytes bigint      NOT NULL CHECK (device_memory_bytes >= 0),
    engine_version      text        NOT NULL,
    jvm                 text        NOT NULL,
    host                text        NOT NULL,
    first_seen_at       timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    current_run_id      uuid        REFERENCES run (id) ON DELETE SET NULL,
    current_attempt     integer     CHECK (current_attempt >= 1),
    CONSTRAINT worker_seen_in_order CHECK (last_seen_at >= first_seen_at)
);

CREATE INDEX worker_last_seen_at_idx ON worker (last_seen_at DESC);
