package org.ccalab.scheduler.run;

import java.util.Optional;
import java.util.UUID;
import org.ccalab.common.event.FailureClass;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * The run lifecycle's transitions, shared by the ingester and the watchdog so both apply the same rules.
 * Every method runs in the caller's transaction on a run the caller locked with {@link #lock}; every
 * status change notifies the live feed and re-derives the experiment's status in that transaction.
 * Failure messages are cut to a size the api can show.
 */
@Component
public class RunTransitions {
    static final int MAX_MESSAGE = 4000;

    private final JdbcClient jdbc;
    private final RunNotifications notifications;
    private final ExperimentStatuses experiments;

    public RunTransitions(JdbcClient jdbc, RunNotifications notifications, ExperimentStatuses experiments) {
        this.jdbc = jdbc;
        this.notifications = notifications;
        this.experiments = experiments;
    }

    public Optional<LockedRun> lock(UUID runId) {
        return jdbc.sql("""
                        select id, experiment_id, status, attempt, max_attempts, cancel_requested_at is not null as cancel,
                               last_checkpoint_uri
                        from run where id = ? for update""")
                .param(runId)
                .query((rs, i) -> new LockedRun(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class),
                        RunStatus.valueOf(rs.getString(3)), rs.getInt(4), rs.getInt(5), rs.getBoolean(6), rs.getString(7)))
                .optional();
    }

    /**
     * A worker took the current attempt. Renews the lease with the scheduler's clock, not the worker's.
     * The run may still read QUEUED/RETRYING: the dispatcher's commit failed after Kafka had the request.
     * The attempt matches, so a worker did receive it; marking it RUNNING is what keeps the dispatcher from
     * sending it a second time.
     */
    public void started(LockedRun run, String workerId) {
        int changed = jdbc.sql("""
                        update run set status = 'RUNNING', worker_id = :worker, started_at = coalesce(started_at, now()),
                                       last_heartbeat_at = now(), updated_at = now()
                        where id = :id and status in ('QUEUED', 'RETRYING', 'DISPATCHED', 'RUNNING')""")
                .param("worker", workerId).param("id", run.id()).update();
        if (changed > 0 && run.status() != RunStatus.RUNNING) changed(run);
    }

    /** Any event of the current attempt proves a worker alive and holding it (see {@link #started}). */
    public void renewLease(LockedRun run, String workerId) {
        if (run.status() == RunStatus.RUNNING) {
            jdbc.sql("update run set last_heartbeat_at = now() where id = ?").param(run.id()).update();
        } else if (!run.status().terminal()) {
            started(run, workerId == null ? "unknown" : workerId);
        }
    }

    public void succeeded(LockedRun run) {
        finish(run, RunStatus.SUCCEEDED);
    }

    public void cancelled(LockedRun run) {
        finish(run, RunStatus.CANCELLED);
    }

    private void finish(LockedRun run, RunStatus status) {
        int changed = jdbc.sql("""
                        update run set status = :status, finished_at = now(), updated_at = now(),
                                       failure_class = case when :status = 'SUCCEEDED' then null else failure_class end,
                                       failure_message = case when :status = 'SUCCEEDED' then null else failure_message end
                        where id = :id and status not in ('SUCCEEDED', 'FAILED', 'CANCELLED')""")
                .param("status", status.name()).param("id", run.id()).update();
        if (changed > 0) changed(run);
    }

    /**
     * An attempt failed: RETRYING with attempt+1 when the class is retryable and attempts remain (the next
     * dispatch resumes from the last checkpoint), else FAILED with class and message. A run whose
     * cancellation was requested is CANCELLED instead: retrying it would only be cancelled again.
     */
    public RunStatus failed(LockedRun run, FailureClass failureClass, String message) {
        String text = message == null || message.isBlank() ? failureClass.name() : message;
        if (text.length() > MAX_MESSAGE) text = text.substring(0, MAX_MESSAGE);
        RunStatus next;
        if (run.cancelRequested()) next = RunStatus.CANCELLED;
        else if (failureClass.retryable() && run.attempt() < run.maxAttempts()) next = RunStatus.RETRYING;
        else next = RunStatus.FAILED;
        int changed = jdbc.sql("""
                        update run set status = :status, failure_class = :class, failure_message = :message,
                                       attempt = attempt + case when :status = 'RETRYING' then 1 else 0 end,
                                       finished_at = case when :status = 'RETRYING' then null else now() end,
                                       dispatched_at = null, cancel_sent_at = null, updated_at = now()
                        where id = :id and status not in ('SUCCEEDED', 'FAILED', 'CANCELLED')""")
                .param("status", next.name()).param("class", failureClass.name()).param("message", text)
                .param("id", run.id()).update();
        if (changed == 0) return run.status();
        changed(run);
        return next;
    }

    private void changed(LockedRun run) {
        notifications.runUpdated(run.id());
        notifications.queueUpdated();
        experiments.refresh(run.experimentId());
    }
}
