-- Why: a retried attempt resumes from the last checkpoint, so checkpoints are recorded per step
-- (one per step, whichever attempt wrote it); artifacts are the other files a run leaves behind
-- (weights, logs, plots), one per name.

CREATE TABLE checkpoint (
    run_id     uuid        NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    step       bigint      NOT NULL CHECK (step >= 0),
    uri        text        NOT NULL CHECK (char_length(uri) BETWEEN 1 AND 2048),
    sha256     text        NOT NULL,
    bytes      bigint      NOT NULL CHECK (bytes >= 0),
    attempt    integer     NOT NULL CHECK (attempt >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, step)
);

CREATE TABLE artifact (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     uuid        NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    attempt    integer     NOT NULL CHECK (attempt >= 1),
    name       text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 512),
    kind       text        NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 64),
    uri        text        NOT NULL CHECK (char_length(uri) BETWEEN 1 AND 2048),
    sha256     text,
    bytes      bigint      CHECK (bytes >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT artifact_run_name_key UNIQUE (run_id, name)
);
