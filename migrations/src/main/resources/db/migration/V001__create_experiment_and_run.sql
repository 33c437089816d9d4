-- Why: an experiment is a named sweep; its runs are the unit the scheduler dispatches and workers
-- execute. The api inserts both in one transaction (status QUEUED); the scheduler owns every later
-- status change. Enumerations live in CHECK constraints so no writer can store a state the run
-- lifecycle (docs/contracts.md) does not know.

CREATE TABLE experiment (
    id                  uuid        PRIMARY KEY,
    name                text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    description         text        CHECK (char_length(description) <= 4000),
    kind                text        NOT NULL CHECK (kind IN ('BENCHMARK', 'TRAINING')),
    -- Derived from the runs by the scheduler: QUEUED until one run starts, terminal when all are.
    status              text        NOT NULL DEFAULT 'QUEUED'
                                    CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    priority            integer     NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
    -- The submission as received, so a sweep can be re-expanded and audited.
    request             jsonb       NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    cancel_requested_at timestamptz
);

CREATE INDEX experiment_created_at_idx ON experiment (created_at DESC, id);
CREATE INDEX experiment_status_created_at_idx ON experiment (status, created_at DESC);
CREATE INDEX experiment_kind_created_at_idx ON experiment (kind, created_at DESC);
-- The api's q= filter is a case-insensitive prefix/substring match on the name.
CREATE INDEX experiment_lower_name_idx ON experiment (lower(name) text_pattern_ops);

CREATE TABLE run (
    id                  uuid        PRIMARY KEY,
    experiment_id       uuid        NOT NULL REFERENCES experiment (id) ON DELETE CASCADE,
    -- Position in the sweep expansion: the stable tie-breaker of the dispatch order.
    ordinal             integer     NOT NULL CHECK (ordinal >= 0),
    kind                text        NOT NULL CHECK (kind IN ('BENCHMARK', 'TRAINING')),
    family              text        NOT NULL CHECK (family IN ('mha', 'gqa', 'mla', 'cca', 'ccgqa')),
    variant             jsonb       NOT NULL,
    -- The whole RunSpec; config_hash is the hash of its canonical JSON.
    spec                jsonb       NOT NULL,
    config_hash         text        NOT NULL CHECK (char_length(config_hash) BETWEEN 1 AND 128),
    seed                bigint      NOT NULL,
    status              text        NOT NULL DEFAULT 'QUEUED'
                                    CHECK (status IN ('QUEUED', 'DISPATCHED', 'RUNNING', 'RETRYING',
                                                      'SUCCEEDED', 'FAILED', 'CANCELLED')),
    priority            integer     NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000),
    -- The attempt the scheduler dispatches (or dispatched) next; events of a lower attempt are fenced.
    attempt             integer     NOT NULL DEFAULT 1,
    max_attempts        integer     NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
    worker_id           text,
    failure_class       text        CHECK (failure_class IN ('LOST_WORKER', 'DEVICE_ERROR', 'OUT_OF_MEMORY',
                                                             'INVALID_CONFIG', 'DIVERGED', 'CODE_ERROR')),
    failure_message     text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    dispatched_at       timestamptz,
    started_at          timestamptz,
    finished_at         timestamptz,
    last_heartbeat_at   timestamptz,
    cancel_requested_at timestamptz,
    last_checkpoint_uri text,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT run_experiment_ordinal_key UNIQUE (experiment_id, ordinal),
    CONSTRAINT run_attempt_within_budget CHECK (attempt BETWEEN 1 AND max_attempts),
    -- A failed run always says why; a terminal run always says when.
    CONSTRAINT run_failed_has_class CHECK (status <> 'FAILED' OR failure_class IS NOT NULL),
    CONSTRAINT run_terminal_has_finish CHECK (status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
                                              OR finished_at IS NOT NULL)
);

-- List/filter/sort queries of the api.
CREATE INDEX run_experiment_created_at_idx ON run (experiment_id, created_at DESC);
CREATE INDEX run_status_created_at_idx ON run (status, created_at DESC);
CREATE INDEX run_family_created_at_idx ON run (family, created_at DESC);
CREATE INDEX run_kind_created_at_idx ON run (kind, created_at DESC);
CREATE INDEX run_created_at_idx ON run (created_at DESC, id);
CREATE INDEX run_failure_class_idx ON run (failure_class, created_at DESC) WHERE failure_class IS NOT NULL;
-- The dispatcher's queue scan, in dispatch order; partial so it stays small however many runs finished.
CREATE INDEX run_dispatch_queue_idx ON run (priority DESC, created_at, ordinal)
    WHERE status IN ('QUEUED', 'RETRYING');
-- The watchdog's scan of leased runs and of pending cancellations.
CREATE INDEX run_leased_idx ON run (status, last_heartbeat_at) WHERE status IN ('DISPATCHED', 'RUNNING');
CREATE INDEX run_cancel_pending_idx ON run (cancel_requested_at)
    WHERE cancel_requested_at IS NOT NULL AND status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED');
