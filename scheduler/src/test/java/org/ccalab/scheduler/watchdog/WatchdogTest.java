package org.ccalab.scheduler.watchdog;

import static org.ccalab.scheduler.support.Patience.PATIENCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.ccalab.common.event.EventType;
import org.ccalab.common.run.RunControl;
import org.ccalab.common.run.RunRequest;
import org.ccalab.common.run.Topics;
import org.ccalab.scheduler.support.ListenersReady;
import org.ccalab.scheduler.support.SchedulerIntegrationTest;
import org.ccalab.scheduler.support.TestRuns;
import org.ccalab.scheduler.support.TopicProbe;
import org.ccalab.scheduler.support.WorkerSimulator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.test.context.TestPropertySource;
import tools.jackson.databind.json.JsonMapper;

/**
 * Leases and cancellation, with a 5 s heartbeat lease and the real loops. The leases are longer than the other
 * scheduler tests' 3 s so that a loaded CI machine, where one heartbeat can take seconds from send to row,
 * cannot turn a live worker into a lost one; the dispatch lease is longer still, so that "not started yet"
 * cannot either.
 */
@SchedulerIntegrationTest
@TestPropertySource(properties = {"ccalab.scheduler.lease-timeout=5s", "ccalab.scheduler.dispatch-lease-timeout=10s"})
class WatchdogTest {
    @Autowired TestRuns runs;
    @Autowired WorkerSimulator worker;
    @Autowired JsonMapper json;
    @Autowired ListenersReady listeners;
    @Value("${spring.embedded.kafka.brokers}") String brokers;

    @BeforeEach
    void emptyQueueNoWorkers() {
        listeners.awaitAssignments();
        runs.finishAll();
        runs.jdbc().sql("delete from worker").update();
    }

    @Test
    void aSilentRunIsRetriedFromItsCheckpointAndThenFailsAsLostWorker() {
        runs.worker("worker-1");
        UUID run = runs.queued(runs.experiment(0), 0, 0, 2);
        try (TopicProbe requests = new TopicProbe(brokers, Topics.RUNS_REQUESTED);
             TopicProbe control = new TopicProbe(brokers, Topics.RUNS_CONTROL)) {
            await().atMost(PATIENCE).until(() -> runs.status(run).equals("DISPATCHED"));
            worker.send(worker.started(run, 1, 0));
            worker.send(worker.checkpoint(run, 1, 1, 3));
            // ...and the worker dies: no more heartbeats.

            RunRequest retry = await().atMost(PATIENCE).until(() -> requests.forKey(run).stream()
                    .map(r -> json.readValue(r.value(), RunRequest.class)).filter(r -> r.attempt() == 2)
                    .findFirst().orElse(null), r -> r != null);
            assertThat(retry.resumeFrom()).isEqualTo("file:/ckpt/" + run + "/step-3");
            assertThat(runs.row(run)).containsEntry("attempt", 2).containsEntry("failure_class", "LOST_WORKER");
            await().atMost(PATIENCE).until(() -> controls(control, run).stream()
                    .anyMatch(c -> c.action() == RunControl.Action.FENCE && c.attempt() == 1));

            worker.send(worker.started(run, 2, 0));
            // Attempt 2 runs: attempt 1's LOST_WORKER is no longer the run's failure, but stays in its events.
            await().atMost(PATIENCE).until(() -> runs.status(run).equals("RUNNING"));
            assertThat(runs.row(run)).containsEntry("attempt", 2).containsEntry("failure_class", null);
            assertThat(runs.count("select count(*) from run_event where run_id = ? and attempt = 1 and type = 'FAILED'"
                    + " and payload->'failure'->>'failureClass' = 'LOST_WORKER'", run)).isEqualTo(1);
            // The second worker dies too, and no attempts are left.
            await().atMost(PATIENCE).until(() -> runs.status(run).equals("FAILED"));

            // The watchdog fences attempt 2 when it gives up; a worker that was only slow, not dead, is
            // fenced again by the ingester when it shows up.
            RunControl fence = new RunControl(run, 2, RunControl.Action.FENCE);
            await().atMost(PATIENCE).until(() -> controls(control, run).contains(fence));
            worker.send(worker.heartbeat(run, 2, 1));
            await().atMost(PATIENCE).until(() ->
                    controls(control, run).stream().filter(fence::equals).count() == 2);
        }
        assertThat(runs.count("select count(*) from run_event where run_id = ? and attempt = 2 and seq = 1", run)).isZero();
        Map<String, Object> row = runs.row(run);
        assertThat(row).containsEntry("failure_class", "LOST_WORKER").containsEntry("attempt", 2);
        assertThat((String) row.get("failure_message")).contains("no heartbeat");
    }

    @Test
    void heartbeatsKeepARunAlive() {
        runs.worker("worker-1");
        UUID run = runs.queued(runs.experiment(0), 0, 0, 2);
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("DISPATCHED"));
        worker.send(worker.started(run, 1, 0));
        long start = System.nanoTime();
        long seq = 1;
        // Twice the lease, heartbeating every 500 ms: the run must stay RUNNING at attempt 1 throughout.
        while (System.nanoTime() - start < Duration.ofSeconds(10).toNanos()) {
            worker.send(worker.heartbeat(run, 1, seq++));
            await().pollDelay(Duration.ofMillis(500)).until(() -> true);
            assertThat(runs.row(run)).containsEntry("status", "RUNNING").containsEntry("attempt", 1);
        }
    }

    @Test
    void aQueuedRunIsCancelledByTheSchedulerItself() {
        UUID run = runs.queued(runs.experiment(0), 0, 0, 3); // no worker: it stays queued
        runs.jdbc().sql("update run set cancel_requested_at = now() where id = ?").param(run).update();
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("CANCELLED"));
        assertThat(runs.row(run).get("dispatched_at")).isNull();
        assertThat(runs.row(run).get("finished_at")).isNotNull();
    }

    @Test
    void aRunningRunGetsOneCancelAndEndsWhenItsWorkerReportsCancelled() {
        runs.worker("worker-1");
        UUID experiment = runs.experiment(0);
        UUID run = runs.queued(experiment, 0, 0, 3);
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("DISPATCHED"));
        worker.send(worker.started(run, 1, 0));
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("RUNNING"));

        try (TopicProbe control = new TopicProbe(brokers, Topics.RUNS_CONTROL)) {
            runs.jdbc().sql("update run set cancel_requested_at = now() where id = ?").param(run).update();
            await().atMost(PATIENCE).until(() -> !controls(control, run).isEmpty());
            // Several watchdog scans later there is still exactly one CANCEL.
            worker.send(worker.heartbeat(run, 1, 1));
            await().pollDelay(Duration.ofSeconds(1)).until(() -> true);
            assertThat(controls(control, run)).containsExactly(new RunControl(run, 1, RunControl.Action.CANCEL));
        }
        assertThat(runs.status(run)).isEqualTo("RUNNING");
        worker.send(worker.terminal(run, 1, 2, EventType.CANCELLED));
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("CANCELLED"));
        await().atMost(PATIENCE).until(() -> runs.experimentStatus(experiment).equals("CANCELLED"));
    }

    @Test
    void cancellingAnExperimentCancelsItsQueuedRuns() {
        UUID experiment = runs.experiment(0);
        UUID a = runs.queued(experiment, 0, 0, 3);
        UUID b = runs.queued(experiment, 1, 0, 3);
        runs.jdbc().sql("update experiment set cancel_requested_at = now() where id = ?").param(experiment).update();
        await().atMost(PATIENCE).until(() -> runs.status(a).equals("CANCELLED") && runs.status(b).equals("CANCELLED"));
        await().atMost(PATIENCE).until(() -> runs.experimentStatus(experiment).equals("CANCELLED"));
    }

    private List<RunControl> controls(TopicProbe probe, UUID run) {
        return probe.forKey(run).stream().map(r -> json.readValue(r.value(), RunControl.class)).toList();
    }
    @Test
    void aRunWhoseWorkerReportsBeforeTheDispatchCommittedIsNotSentAgain() {
        // As if the dispatcher's commit had failed after Kafka took the request: the run still reads QUEUED.
        UUID run = runs.queued(runs.experiment(0), 0, 0, 3);
        worker.send(worker.started(run, 1, 0));
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("RUNNING"));
        try (TopicProbe requests = new TopicProbe(brokers, Topics.RUNS_REQUESTED)) {
            runs.worker("worker-1");
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).until(() -> requests.forKey(run).isEmpty());
        }
        assertThat(runs.row(run)).containsEntry("status", "RUNNING").containsEntry("worker_id", "worker-1");
    }
}
