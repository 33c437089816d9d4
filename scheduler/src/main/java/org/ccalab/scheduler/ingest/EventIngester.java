package org.ccalab.scheduler.ingest;

import org.ccalab.common.event.FailureClass;
import org.ccalab.common.event.RunEvent;
import org.ccalab.common.run.RunControl;
import org.ccalab.scheduler.run.ControlSender;
import org.ccalab.scheduler.run.LockedRun;
import org.ccalab.scheduler.run.RunTransitions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.databind.json.JsonMapper;

/**
 * Applies one run event, exactly once. In one transaction: lock the run, refuse a superseded attempt or
 * a worker still busy with a run that already ended (fencing: nothing recorded, a FENCE control sent), insert the event into run_event with ON CONFLICT DO
 * NOTHING (a redelivery inserts nothing and is skipped), then apply its effect. The event row and the
 * effect commit or roll back together, so a crash between them cannot lose or double an effect.
 */
@Component
public class EventIngester {
    private static final Logger log = LoggerFactory.getLogger(EventIngester.class);

    private final JdbcClient jdbc;
    private final RunTransitions transitions;
    private final ResultStore results;
    private final ControlSender control;
    private final JsonMapper json;

    EventIngester(JdbcClient jdbc, RunTransitions transitions, ResultStore results, ControlSender control, JsonMapper json) {
        this.jdbc = jdbc;
        this.transitions = transitions;
        this.results = results;
        this.control = control;
        this.json = json;
    }

    /** Returns what happened, for logs and tests. */
    @Transactional
    public Outcome ingest(RunEvent event) {
        LockedRun run = transitions.lock(event.runId())
                .orElseThrow(() -> new UnprocessableRecordException("run " + event.runId() + " does not exist"));
        if (event.attempt() < run.attempt()) {
            log.info("fenced {} of run {} attempt {} (current attempt {})", event.type(), run.id(), event.attempt(), run.attempt());
            control.send(new RunControl(run.id(), event.attempt(), RunControl.Action.FENCE));
            return Outcome.FENCED;
        }
        if (run.status().terminal() && !event.type().terminal()) {
            // The run ended without this worker (lost and out of attempts, or cancelled): it must stop.
            log.info("fenced {} of run {} attempt {}: the run is already {}", event.type(), run.id(), event.attempt(), run.status());
            control.send(new RunControl(run.id(), event.attempt(), RunControl.Action.FENCE));
            return Outcome.FENCED;
        }
        if (event.attempt() > run.attempt()) {
            throw new UnprocessableRecordException("event of attempt " + event.attempt() + " for run " + run.id()
                    + " whose current attempt is " + run.attempt() + ": no such attempt was dispatched");
        }
        int inserted = jdbc.sql("""
                        insert into run_event(run_id, attempt, seq, event_id, type, time, payload)
                        values (:run, :attempt, :seq, :eventId, :type, :time, cast(:payload as jsonb))
                        on conflict do nothing""")
                .param("run", event.runId()).param("attempt", event.attempt()).param("seq", event.seq())
                .param("eventId", event.eventId()).param("type", event.type().name())
                .param("time", java.sql.Timestamp.from(event.time()))
                .param("payload", json.writeValueAsString(event)).update();
        if (inserted == 0) return Outcome.DUPLICATE;
        apply(run, event);
        return Outcome.APPLIED;
    }

    private void apply(LockedRun run, RunEvent e) {
        switch (e.type()) {
            case STARTED -> {
                transitions.started(run, e.workerId() == null ? "unknown" : e.workerId());
                if (e.environment() != null) results.environment(run.id(), e.attempt(), e.environment());
            }
            case HEARTBEAT -> transitions.renewLease(run, e.workerId());
            case METRICS -> {
                transitions.renewLease(run, e.workerId());
                if (e.metrics() != null) results.metrics(run.id(), e.attempt(), e.metrics());
            }
            case BENCHMARK_CELLS -> {
                transitions.renewLease(run, e.workerId());
                if (e.cells() != null) results.cells(run.id(), e.attempt(), e.cells());
            }
            case CHECKPOINT -> {
                transitions.renewLease(run, e.workerId());
                if (e.checkpoint() == null) throw new UnprocessableRecordException("CHECKPOINT event without checkpoint");
                results.checkpoint(run.id(), e.attempt(), e.checkpoint());
            }
            case SUCCEEDED -> transitions.succeeded(run);
            case CANCELLED -> transitions.cancelled(run);
            case FAILED -> {
                FailureClass failureClass = e.failure() == null || e.failure().failureClass() == null
                        ? FailureClass.CODE_ERROR : e.failure().failureClass();
                String message = e.failure() == null ? e.message() : e.failure().message();
                transitions.failed(run, failureClass, message);
            }
        }
    }

    public enum Outcome { APPLIED, DUPLICATE, FENCED }
}
