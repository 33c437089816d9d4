package org.ccalab.scheduler.dispatch;

import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/** The queue is the run table: admitted QUEUED/RETRYING runs in (priority desc, created_at, ordinal) order. */
@Component
class DispatchQueue {
    /** One key for every scheduler replica, so capacity is computed by one of them at a time. */
    private static final long DISPATCH_LOCK = 0x6363_616c_6162_0001L;

    private final JdbcClient jdbc;

    DispatchQueue(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** Held until the transaction ends; false when another replica is dispatching now. */
    boolean tryLock() {
        return jdbc.sql("select pg_try_advisory_xact_lock(?)").param(DISPATCH_LOCK).query(Boolean.class).single();
    }

    /**
     * Live workers (status seen within {@code freshness}, one run each) plus the prefetch, less the runs
     * already dispatched or running.
     */
    int freeSlots(Duration freshness, int prefetch) {
        return jdbc.sql("""
                        select (select count(*) from worker where last_seen_at > now() - make_interval(secs => :fresh))
                             + :prefetch
                             - (select count(*) from run where status in ('DISPATCHED', 'RUNNING'))""")
                .param("fresh", freshness.toMillis() / 1000.0).param("prefetch", prefetch)
                .query(Integer.class).single();
    }

    /** The highest-priority run ready to go, locked; a run another transaction holds is passed over. */
    Optional<QueuedRun> head() {
        return jdbc.sql("""
                        select id, experiment_id, attempt, spec::text, last_checkpoint_uri from run
                        where status in ('QUEUED', 'RETRYING') and admitted_at is not null and cancel_requested_at is null
                        order by priority desc, created_at, ordinal
                        limit 1 for update skip locked""")
                .query((rs, i) -> new QueuedRun(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), rs.getInt(3),
                        rs.getString(4), rs.getString(5)))
                .optional();
    }

    void markDispatched(UUID runId) {
        jdbc.sql("""
                        update run set status = 'DISPATCHED', dispatched_at = now(), last_heartbeat_at = null,
                                       worker_id = null, updated_at = now()
                        where id = ?""")
                .param(runId).update();
    }
}
