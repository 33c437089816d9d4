package org.ccalab.scheduler.watchdog;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.ccalab.common.run.RunControl;
import org.ccalab.scheduler.run.ControlSender;
import org.ccalab.scheduler.run.LockedRun;
import org.ccalab.scheduler.run.RunStatus;
import org.ccalab.scheduler.run.RunTransitions;
import org.ccalab.scheduler.system.SchedulerProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;

/**
 * Supersedes attempts whose worker went silent: a RUNNING run without a heartbeat for the lease, or a
 * DISPATCHED run no worker started within the dispatch lease, becomes RETRYING attempt+1 (the dispatcher
 * resumes it from its last checkpoint) or, with no attempts left, FAILED LOST_WORKER. The old attempt is
 * fenced: a FENCE control tells its worker, if alive after all, to stop, and its events are refused.
 */
@Component
class LeaseWatchdog {
    private static final Logger log = LoggerFactory.getLogger(LeaseWatchdog.class);

    private final JdbcClient jdbc;
    private final RunTransitions transitions;
    private final ControlSender control;
    private final SchedulerProperties properties;

    LeaseWatchdog(JdbcClient jdbc, RunTransitions transitions, ControlSender control, SchedulerProperties properties) {
        this.jdbc = jdbc;
        this.transitions = transitions;
        this.control = control;
        this.properties = properties;
    }

    @Transactional
    public int scan() {
        List<UUID> lapsed = jdbc.sql("""
                        select id from run
                        where (status = 'RUNNING' and coalesce(last_heartbeat_at, dispatched_at)
                                                      < now() - make_interval(secs => :lease))
                           or (status = 'DISPATCHED' and dispatched_at < now() - make_interval(secs => :dispatchLease))
                        order by id
                        limit 200 for update skip locked""")
                .param("lease", seconds(properties.leaseTimeout()))
                .param("dispatchLease", seconds(properties.dispatchLeaseTimeout()))
                .query(UUID.class).list();
        for (UUID id : lapsed) {
            LockedRun run = transitions.lock(id).orElseThrow();
            RunStatus next = transitions.lostWorker(run, run.status() == RunStatus.DISPATCHED
                    ? "no worker started attempt " + run.attempt() + " within " + properties.dispatchLeaseTimeout()
                    : "no heartbeat from the worker of attempt " + run.attempt() + " for " + properties.leaseTimeout());
            control.send(new RunControl(run.id(), run.attempt(), RunControl.Action.FENCE));
            log.warn("run {} attempt {} lost its worker: now {}", run.id(), run.attempt(), next);
        }
        return lapsed.size();
    }

    private static double seconds(Duration d) {
        return d.toMillis() / 1000.0;
    }
}
