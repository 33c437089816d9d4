-- Why: metric series (loss curves, evaluation, throughput). The primary key (run_id, name, step)
-- makes a replayed point, or a resumed attempt repeating steps after its checkpoint, leave exactly
-- one point per step; it is also the index the api reads series through (run, name, step range).

CREATE TABLE metric_point (
    run_id    uuid             NOT NULL REFERENCES run (id) ON DELETE CASCADE,
    name      text             NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    step      bigint           NOT NULL CHECK (step >= 0),
    -- NaN and infinity are legitimate values here: they are how divergence shows.
    value     double precision NOT NULL,
    tokens    bigint           CHECK (tokens >= 0),
    elapsed_s double precision CHECK (elapsed_s >= 0),
    attempt   integer          NOT NULL CHECK (attempt >= 1),
    PRIMARY KEY (run_id, name, step)
);
