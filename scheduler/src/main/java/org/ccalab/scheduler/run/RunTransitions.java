package org.ccalab.scheduler.run;

import java.util.Optional;
import java.util.UUID;
import org.ccalab.common.event.EventType;
import org.ccalab.common.event.Failure;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.event.RunEvent;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/**
 * The run lifecycle's transitions, shared by the ingester and the watchdog so both apply the same rules.
 * Every method runs in the caller's transaction on a run the caller locked with {@link #lock}; every
 * status change notifies the live feed and re-derives the experiment's status in that transaction.
 * Failure messages are cut to a size the api can show.
 *
 * <p>The run's {@code failure_class}/{@code failure_message} describe its current state only: set on FAILED,
 * and on RETRYING (why the run waits for another attempt); cleared when a new attempt starts and on SUCCEEDED.
 * A CANCELLED run has no failure class; if its worker reported a failure while stopping, the message says so
 * ("cancelled; the worker reported ... while stopping"). Each attempt's failure stays in {@code run_event}:
 * the worker's FAILED event, or the one {@link #lostWorker} records for an attempt whose worker went silent.
 */
@Component
public class RunTransitions {
    static final int MAX_MESSAGE = 4000;
    /** The seq of the event the scheduler records for an attempt it gave up on: 2^53 - 1, exact in JavaScript. */
    public static final long SCHEDULER_SEQ = (1L << 53) - 1;

    private final JdbcClient jdbc;
    private final RunNotifications notifications;
    private final ExperimentStatuses experiments;
    private final JsonMapper json;

    public RunTransitions(JdbcClient jdbc, RunNotifications notifications, ExperimentStatuses experiments,
                          JsonMapper json) {
        this.jdbc = jdbc;
        this.notifications = notifications;
        this.experiments = experiments;
        this.json = json;
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
                                       last_heartbeat_at = now(), updated_at = now(),
                                       failure_class = null, failure_message = null
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
                                       failure_class = null, failure_message = null
                        where id = :id and status not in ('SUCCEEDED', 'FAILED', 'CANCELLED')""")
                .param("status", status.name()).param("id", run.id()).update();
        if (changed > 0) changed(run);
    }

    /**
     * An attempt failed: RETRYING with attempt+1 when the class is retryable and attempts remain (the next
     * dispatch resumes from the last checkpoint), else FAILED with class and message. A run whose
     * cancellation was requested is CANCELLED instead: retrying it would only be cancelled again. It keeps
     * no failure class, only a message saying what the worker reported while it stopped.
     */
    public RunStatus failed(LockedRun run, FailureClass failureClass, String message) {
        boolean said = message != null && !message.isBlank();
        String text = said ? message : failureClass.name();
        RunStatus next;
        if (run.cancelRequested()) next = RunStatus.CANCELLED;
        else if (failureClass.retryable() && run.attempt() < run.maxAttempts()) next = RunStatus.RETRYING;
        else next = RunStatus.FAILED;
        if (next == RunStatus.CANCELLED) {
            text = (failureClass == FailureClass.LOST_WORKER ? "cancelled; the worker was lost while stopping"
                    : "cancelled; the worker reported " + failureClass.name() + " while stopping") + (said ? ": " + message : "");
        }
        if (text.length() > MAX_MESSAGE) text = text.substring(0, MAX_MESSAGE);
        int changed = jdbc.sql("""
                        update run set status = :status, failure_class = :class, failure_message = :message,
                                       attempt = attempt + case when :status = 'RETRYING' then 1 else 0 end,
                                       finished_at = case when :status = 'RETRYING' then null else now() end,
                                       dispatched_at = null, cancel_sent_at = null, updated_at = now()
                        where id = :id and status not in ('SUCCEEDED', 'FAILED', 'CANCELLED')""")
                .param("status", next.name())
                .param("class", next == RunStatus.CANCELLED ? null : failureClass.name()).param("message", text)
                .param("id", run.id()).update();
        if (changed == 0) return run.status();
        changed(run);
        return next;
    }

    /**
     * The current attempt's worker went silent: records that in the run's events (as a FAILED event of that
     * attempt, worker "scheduler", seq {@link #SCHEDULER_SEQ}) so the attempt's history keeps it once a new
     * attempt clears the run's failure, then applies {@link #failed}. An attempt is lost at most once (it is
     * superseded or the run ends), and no worker counts its events that far, so the seq is the attempt's last
     * and cannot take the place of an event its worker sends later (which is fenced, but recorded if terminal).
     */
    public RunStatus lostWorker(LockedRun run, String message) {
        long seq = SCHEDULER_SEQ;
        RunEvent event = RunEvent.of(run.id(), run.attempt(), seq, EventType.FAILED, "scheduler")
                .withFailure(new Failure(FailureClass.LOST_WORKER, message));
        jdbc.sql("""
                        insert into run_event(run_id, attempt, seq, event_id, type, time, payload)
                        values (:run, :attempt, :seq, :eventId, 'FAILED', :time, cast(:payload as jsonb))
                        on conflict do nothing""")
                .param("run", run.id()).param("attempt", run.attempt()).param("seq", seq)
                .param("eventId", event.eventId()).param("time", java.sql.Timestamp.from(event.time()))
                .param("payload", json.writeValueAsString(event)).update();
        return failed(run, FailureClass.LOST_WORKER, message);
    }

    private void changed(LockedRun run) {
        notifications.runUpdated(run.id());
        notifications.queueUpdated();
        experiments.refresh(run.experimentId());
    }
}
