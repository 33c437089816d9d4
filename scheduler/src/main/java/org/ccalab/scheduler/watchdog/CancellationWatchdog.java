package org.ccalab.scheduler.watchdog;

import java.util.List;
import java.util.UUID;
import org.ccalab.common.run.RunControl;
import org.ccalab.scheduler.run.ControlSender;
import org.ccalab.scheduler.run.LockedRun;
import org.ccalab.scheduler.run.RunStatus;
import org.ccalab.scheduler.run.RunTransitions;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * Carries out the cancellations the api records. An experiment's request extends to its unfinished runs;
 * a run no worker holds (QUEUED/RETRYING) is cancelled here; a DISPATCHED/RUNNING run gets one CANCEL on
 * {@code runs.control} (cancel_sent_at), and its worker reports CANCELLED at the next step boundary. If
 * that worker is dead, the lease watchdog ends the run as CANCELLED instead of retrying it.
 */
@Component
class CancellationWatchdog {
    private final JdbcClient jdbc;
    private final RunTransitions transitions;
    private final ControlSender control;

    CancellationWatchdog(JdbcClient jdbc, RunTransitions transitions, ControlSender control) {
        this.jdbc = jdbc;
        this.transitions = transitions;
        this.control = control;
    }

    @Transactional
    public int scan() {
        jdbc.sql("""
                update run r set cancel_requested_at = e.cancel_requested_at, updated_at = now()
                from experiment e
                where r.experiment_id = e.id and e.cancel_requested_at is not null and r.cancel_requested_at is null
                  and r.status not in ('SUCCEEDED', 'FAILED', 'CANCELLED')""").update();
        List<UUID> pending = jdbc.sql("""
                        select id from run
                        where cancel_requested_at is not null and status not in ('SUCCEEDED', 'FAILED', 'CANCELLED')
                          and (status in ('QUEUED', 'RETRYING') or cancel_sent_at is null)
                        order by id limit 200 for update skip locked""")
                .query(UUID.class).list();
        for (UUID id : pending) {
            LockedRun run = transitions.lock(id).orElseThrow();
            if (run.status() == RunStatus.QUEUED || run.status() == RunStatus.RETRYING) {
                transitions.cancelled(run);
            } else if (run.leased()) {
                control.send(new RunControl(run.id(), run.attempt(), RunControl.Action.CANCEL));
                jdbc.sql("update run set cancel_sent_at = now(), updated_at = now() where id = ?").param(run.id()).update();
            }
        }
        return pending.size();
    }
}
