-- Why: the scheduler's sweep job validates an experiment's runs before any of them may be dispatched,
-- so a run carries the moment it was admitted to the dispatch queue (null: not yet validated; the
-- dispatcher ignores it). cancel_sent_at records that the CANCEL control for a DISPATCHED/RUNNING run
-- went out, so the watchdog sends it once, not on every scan.
-- Cost: adding nullable columns without defaults is a catalog-only change; the index is rebuilt on
-- the queued runs only (partial), which stay few.

ALTER TABLE run ADD COLUMN admitted_at timestamptz;
ALTER TABLE run ADD COLUMN cancel_sent_at timestamptz;

DROP INDEX run_dispatch_queue_idx;
CREATE INDEX run_dispatch_queue_idx ON run (priority DESC, created_at, ordinal)
    WHERE status IN ('QUEUED', 'RETRYING') AND admitted_at IS NOT NULL;
