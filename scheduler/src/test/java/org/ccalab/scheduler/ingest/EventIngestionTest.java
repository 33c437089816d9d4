package org.ccalab.scheduler.ingest;

import static org.ccalab.scheduler.support.Patience.PATIENCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import javax.sql.DataSource;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.event.EventType;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.event.MetricPoint;
import org.ccalab.common.event.RunEvent;
import org.ccalab.common.event.WorkerStatus;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.Scope;
import org.ccalab.common.run.RunControl;
import org.ccalab.common.run.RunRequest;
import org.ccalab.common.run.Topics;
import org.ccalab.scheduler.support.ListenersReady;
import org.ccalab.scheduler.support.SchedulerIntegrationTest;
import org.ccalab.scheduler.support.TestRuns;
import org.ccalab.scheduler.support.TopicProbe;
import org.ccalab.scheduler.support.WorkerSimulator;
import org.junit.jupiter.api.BeforeEach;
import org.postgresql.PGConnection;
import org.slf4j.LoggerFactory;
import org.postgresql.PGNotification;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.TestPropertySource;
import tools.jackson.databind.json.JsonMapper;

/**
 * Ingestion of runs.events through the real listener: idempotency (with a negative control), fencing,
 * retries that keep one metric point per step, non-retryable failures, and poison records.
 */
@SchedulerIntegrationTest
@Import(NaiveEventRecorder.class)
// Leases are not what this class tests: long ones keep a slow machine from retrying its runs.
@TestPropertySource(properties = {"ccalab.scheduler.lease-timeout=60s", "ccalab.scheduler.dispatch-lease-timeout=60s"})
class EventIngestionTest {
    @Autowired TestRuns runs;
    @Autowired WorkerSimulator worker;
    @Autowired NaiveEventRecorder naive;
    @Autowired ListenersReady listeners;
    @Autowired JsonMapper json;
    @Autowired DataSource dataSource;
    @Value("${spring.embedded.kafka.brokers}") String brokers;

    @BeforeEach
    void oneWorkerAndAnEmptyQueue() {
        listeners.awaitAssignments();
        runs.finishAll();
        if (runs.count("select count(*) from worker") == 0) runs.worker("worker-1");
    }

    /** Dispatched by the real dispatcher and started, as a worker would have it. */
    private UUID runningRun(int maxAttempts) {
        UUID run = runs.queued(runs.experiment(0), 0, 0, maxAttempts);
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("DISPATCHED"));
        worker.send(worker.started(run, 1, 0));
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("RUNNING"));
        return run;
    }

    @Test
    void anEventDeliveredThreeTimesLeavesOneRowWhileANaiveConsumerWouldCountThree() {
        UUID run = runningRun(3);
        RunEvent metrics = worker.metrics(run, 1, 1, 0, 5);
        for (int i = 0; i < 3; i++) worker.send(metrics);
        worker.send(worker.heartbeat(run, 1, 2)); // a later event: once it is in, the three copies were consumed

        await().atMost(PATIENCE).until(() ->
                runs.count("select count(*) from run_event where run_id = ? and seq = 2", run) == 1
                        && naive.deliveries(metrics.eventId()) == 3);
        assertThat(rowsOf("run_event", metrics.eventId())).isEqualTo(1);
        assertThat(runs.count("select count(*) from metric_point where run_id = ?", run)).isEqualTo(5);
        // Negative control: the same count over a consumer without the key shows the duplicates it would catch.
        assertThat(naive.deliveries(metrics.eventId())).isEqualTo(3);
    }

    private long rowsOf(String table, UUID eventId) {
        return runs.count("select count(*) from " + table + " where event_id = ?", eventId);
    }

    @Test
    void anEventOfASupersededAttemptIsFencedAndRecordsNothing() {
        UUID run = runningRun(3);
        worker.send(worker.failed(run, 1, 1, FailureClass.DEVICE_ERROR, "CUDA error: device lost"));
        await().atMost(PATIENCE).until(() -> (int) runs.row(run).get("attempt") == 2);

        try (TopicProbe control = new TopicProbe(brokers, Topics.RUNS_CONTROL)) {
            worker.send(worker.metrics(run, 1, 2, 0, 3));
            await().atMost(PATIENCE).until(() -> control.forKey(run).stream()
                    .map(r -> json.readValue(r.value(), RunControl.class))
                    .anyMatch(c -> c.action() == RunControl.Action.FENCE && c.attempt() == 1));
        }
        assertThat(runs.count("select count(*) from run_event where run_id = ? and seq = 2", run)).isZero();
        assertThat(runs.count("select count(*) from metric_point where run_id = ?", run)).isZero();
        assertThat(runs.row(run)).containsEntry("attempt", 2).containsEntry("failure_class", "DEVICE_ERROR");
    }

    @Test
    void aRetriedRunResumesFromItsCheckpointWithoutDuplicatingMetrics() {
        UUID run = runningRun(3);
        try (TopicProbe requests = new TopicProbe(brokers, Topics.RUNS_REQUESTED)) {
            // Attempt 1: steps 0..9, a checkpoint after step 5, then a transient device failure.
            worker.send(worker.metrics(run, 1, 1, 0, 10));
            worker.send(worker.checkpoint(run, 1, 2, 5));
            worker.send(worker.failed(run, 1, 3, FailureClass.DEVICE_ERROR, "Xid 79: GPU has fallen off the bus"));

            // The dispatcher sends attempt 2, resuming from the checkpoint.
            RunRequest retry = await().atMost(PATIENCE).until(() -> requests.forKey(run).stream()
                    .map(r -> json.readValue(r.value(), RunRequest.class)).filter(r -> r.attempt() == 2)
                    .findFirst().orElse(null), r -> r != null);
            assertThat(retry.resumeFrom()).isEqualTo("file:/ckpt/" + run + "/step-5");
        }
        // Attempt 2 repeats steps 5..9 after the checkpoint and goes on to 14.
        worker.send(worker.started(run, 2, 0));
        worker.send(worker.metrics(run, 2, 1, 5, 15));
        worker.send(worker.terminal(run, 2, 2, EventType.SUCCEEDED));
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("SUCCEEDED"));

        assertThat(runs.count("select count(*) from metric_point where run_id = ? and name = 'train/loss'", run))
                .isEqualTo(15);
        assertThat(runs.count("select count(distinct step) from metric_point where run_id = ?", run)).isEqualTo(15);
        assertThat(runs.count("select min(step) from metric_point where run_id = ?", run)).isZero();
        assertThat(runs.count("select max(step) from metric_point where run_id = ?", run)).isEqualTo(14);
        assertThat(runs.count("select count(*) from run_environment where run_id = ?", run)).isEqualTo(2);
        assertThat(runs.row(run).get("failure_class")).isNull();
    }

    @Test
    void aDeterministicSpecIsDispatchedAsStoredAndEachAttemptRecordsWhetherItsBackwardWasDeterministic() {
        String spec = """
                {"kind":"BENCHMARK","variant":{"family":"mha","dModel":64,"nHeads":4},"seed":3,
                 "benchmark":{"batch":1,"seqLen":16,"phases":["BACKWARD"],"deterministic":true}}""";
        UUID run;
        try (TopicProbe requests = new TopicProbe(brokers, Topics.RUNS_REQUESTED)) {
            run = runs.run(runs.experiment(0), 0, 0, spec, true, 3);
            RunRequest sent = await().atMost(PATIENCE).until(() -> requests.forKey(run).stream()
                    .map(r -> json.readValue(r.value(), RunRequest.class)).findFirst().orElse(null), r -> r != null);
            assertThat(sent.spec().deterministic()).as("the stored option reaches the worker").isTrue();
            assertThat(sent.spec().benchmark().deterministic()).isTrue();
        }
        UUID id = run;
        worker.send(worker.started(id, 1, 0).withEnvironment(WorkerSimulator.ENV.withDeterministicBackward(true)));
        await().atMost(PATIENCE).until(() -> runs.status(id).equals("RUNNING"));
        assertThat(runs.jdbc().sql("select deterministic_backward from run_environment where run_id = ? and attempt = 1")
                .param(id).query(Boolean.class).single()).isTrue();
        worker.send(worker.terminal(id, 1, 1, EventType.SUCCEEDED)); // frees the one worker slot
        await().atMost(PATIENCE).until(() -> runs.status(id).equals("SUCCEEDED"));

        // A worker that does not say (an older one) leaves it unknown, not false.
        UUID other = runningRun(3);
        assertThat(runs.jdbc().sql("select deterministic_backward from run_environment where run_id = ?")
                .param(other).query((rs, n) -> rs.getObject(1)).list()).containsExactly((Object) null);
    }

    @Test
    void aNewAttemptThatStartsNoLongerCarriesTheEarlierAttemptsFailure() {
        UUID run = runningRun(3);
        worker.send(worker.failed(run, 1, 1, FailureClass.DEVICE_ERROR, "CUDA error: device lost"));
        await().atMost(PATIENCE).until(() -> (int) runs.row(run).get("attempt") == 2);
        // Waiting for attempt 2, the run says why it is being retried...
        assertThat(runs.row(run)).containsEntry("failure_class", "DEVICE_ERROR");

        // ...and once attempt 2 runs, attempt 1's failure is history (its event), not the run's state.
        worker.send(worker.started(run, 2, 0));
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("RUNNING"));
        Map<String, Object> row = runs.row(run);
        assertThat(row).containsEntry("attempt", 2).containsEntry("failure_class", null)
                .containsEntry("failure_message", null);
        assertThat(runs.count("select count(*) from run_event where run_id = ? and attempt = 1 and type = 'FAILED'"
                + " and payload->'failure'->>'failureClass' = 'DEVICE_ERROR'", run)).isEqualTo(1);
    }

    @Test
    void aRunWhoseWorkerFailsWhileStoppingForACancelIsCancelledWithoutAFailureClass() {
        UUID run = runningRun(3);
        runs.jdbc().sql("update run set cancel_requested_at = now() where id = ?").param(run).update();
        worker.send(worker.failed(run, 1, 1, FailureClass.DEVICE_ERROR, "CUDA error: device lost"));
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("CANCELLED"));
        Map<String, Object> row = runs.row(run);
        // CANCELLED and FAILED at once is not a state: the class (which filters and reads as "failed") goes,
        // the message says what the worker reported while it stopped.
        assertThat(row).containsEntry("failure_class", null).containsEntry("attempt", 1);
        assertThat((String) row.get("failure_message"))
                .isEqualTo("cancelled; the worker reported DEVICE_ERROR while stopping: CUDA error: device lost");
        assertThat(row.get("finished_at")).isNotNull();
    }

    @Test
    void aRetryingRunThatIsCancelledDropsTheFailureItWasRetrying() {
        UUID run = runs.run(runs.experiment(0), 0, 0, runs.validSpec(0), false, 3); // not admitted: never dispatched
        runs.jdbc().sql("""
                update run set status = 'RETRYING', attempt = 2, failure_class = 'LOST_WORKER',
                               failure_message = 'no heartbeat', cancel_requested_at = now() where id = ?""")
                .param(run).update();
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("CANCELLED"));
        assertThat(runs.row(run)).containsEntry("failure_class", null).containsEntry("failure_message", null);
    }

    @Test
    void aFailureRetryingCannotHelpEndsTheRunWithItsClassAndMessage() {
        UUID run = runningRun(3);
        worker.send(worker.failed(run, 1, 1, FailureClass.OUT_OF_MEMORY, "CUDA out of memory: tried to allocate 8 GiB"));
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("FAILED"));
        Map<String, Object> row = runs.row(run);
        assertThat(row).containsEntry("failure_class", "OUT_OF_MEMORY").containsEntry("attempt", 1);
        assertThat((String) row.get("failure_message")).contains("tried to allocate 8 GiB");
        assertThat(row.get("finished_at")).isNotNull();
    }

    @Test
    void aPoisonRecordLandsInTheDeadLetterTopicAndTable() {
        String key = UUID.randomUUID().toString();
        try (TopicProbe dlt = new TopicProbe(brokers, Topics.RUNS_EVENTS + Topics.DLT_SUFFIX)) {
            worker.sendRaw(key, "{\"eventId\": not json at all");
            List<ConsumerRecord<String, String>> dead = await().atMost(PATIENCE)
                    .until(() -> dlt.records(r -> key.equals(r.key())), l -> !l.isEmpty());
            assertThat(dead.getFirst().value()).isEqualTo("{\"eventId\": not json at all");
        }
        await().atMost(PATIENCE).until(() ->
                runs.count("select count(*) from dead_letter where record_key = ?", key) == 1);
        Map<String, Object> letter = runs.jdbc().sql("select * from dead_letter where record_key = ?").param(key)
                .query().singleRow();
        assertThat(letter).containsEntry("topic", Topics.RUNS_EVENTS)
                .containsEntry("dlt_topic", Topics.RUNS_EVENTS + Topics.DLT_SUFFIX)
                .containsEntry("record_value", "{\"eventId\": not json at all");
        assertThat((String) letter.get("error_class")).startsWith("tools.jackson.");
        assertThat((String) letter.get("error")).isNotBlank();
    }

    @Test
    void anEventForAnUnknownRunIsDeadLetteredNotDropped() {
        UUID ghost = UUID.randomUUID();
        worker.send(worker.heartbeat(ghost, 1, 0));
        await().atMost(PATIENCE).until(() ->
                runs.count("select count(*) from dead_letter where record_key = ?", ghost.toString()) == 1);
        assertThat(runs.count("select count(*) from dead_letter where record_key = ? and error like '%does not exist%'",
                ghost.toString())).isEqualTo(1);
    }
    @Test
    void aRemeasuredBenchmarkCellReplacesTheEarlierOneOnItsIdentity() {
        UUID run = runningRun(3);
        BenchmarkCell forward = cell(Phase.FORWARD, Scope.CORE, 1.0, Double.NaN);
        BenchmarkCell decode = cell(Phase.DECODE, Scope.LAYER, 0.2, 1e-3);
        worker.send(RunEvent.of(run, 1, 1, EventType.BENCHMARK_CELLS, "worker-1").withCells(List.of(forward, decode)));
        worker.send(RunEvent.of(run, 1, 2, EventType.BENCHMARK_CELLS, "worker-1")
                .withCells(List.of(cell(Phase.FORWARD, Scope.CORE, 0.8, 2e-3))));
        worker.send(worker.terminal(run, 1, 3, EventType.SUCCEEDED));
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("SUCCEEDED"));

        assertThat(runs.count("select count(*) from benchmark_cell where run_id = ?", run)).isEqualTo(2);
        Map<String, Object> remeasured = runs.jdbc().sql(
                "select p50_ms, max_abs_error from benchmark_cell where run_id = ? and phase = 'FORWARD'").param(run)
                .query().singleRow();
        assertThat(remeasured).containsEntry("p50_ms", 0.8).containsEntry("max_abs_error", 2e-3);
        assertThat(runs.jdbc().sql("select max_abs_error from benchmark_cell where run_id = ? and phase = 'DECODE'")
                .param(run).query(Double.class).single()).isEqualTo(1e-3);
    }

    private static BenchmarkCell cell(Phase phase, Scope scope, double p50, double maxAbsError) {
        return new BenchmarkCell(phase, scope, true, 1, 16, "fp32", "cpu", p50 * 0.9, p50, p50 * 1.1, 0.5, 1e9,
                1 << 20, 512, maxAbsError, Double.NaN);
    }

    @Test
    void aDivergedRunKeepsItsNonFiniteLossAndIsNotRetried() {
        UUID run = runningRun(3);
        worker.send(RunEvent.of(run, 1, 1, EventType.METRICS, "worker-1").withMetrics(List.of(
                new MetricPoint("train/loss", 0, 4.2, 64, 0.1), new MetricPoint("train/loss", 1, Double.NaN, 128, 0.2),
                new MetricPoint("grad_norm", 1, Double.POSITIVE_INFINITY, 128, 0.2))));
        worker.send(worker.failed(run, 1, 2, FailureClass.DIVERGED, "loss is NaN at step 1"));
        await().atMost(PATIENCE).until(() -> runs.status(run).equals("FAILED"));

        assertThat(runs.row(run)).containsEntry("failure_class", "DIVERGED").containsEntry("attempt", 1);
        assertThat(runs.jdbc().sql("select value from metric_point where run_id = ? and name = 'train/loss' and step = 1")
                .param(run).query(Double.class).single()).isNaN();
        assertThat(runs.jdbc().sql("select value from metric_point where run_id = ? and name = 'grad_norm'")
                .param(run).query(Double.class).single()).isInfinite();
    }

    @Test
    void workerStatusKeepsTheWorkerTableCurrent() {
        UUID run = runs.queued(runs.experiment(0), 0, 0, 3);
        WorkerStatus idle = new WorkerStatus("gpu-7", "cuda", "NVIDIA H100", 80L << 30, "0.1.0", "25", "node-3",
                Instant.now(), null, null);
        worker.sendStatus(idle);
        await().atMost(PATIENCE).until(() -> runs.count("select count(*) from worker where id = 'gpu-7'") == 1);
        worker.sendStatus(new WorkerStatus("gpu-7", "cuda", "NVIDIA H100", 80L << 30, "0.1.0", "25", "node-3",
                Instant.now(), run, 1));
        await().atMost(PATIENCE).until(() ->
                runs.count("select count(*) from worker where id = 'gpu-7' and current_run_id = ?", run) == 1);
        // A run this database does not know is no reason to refuse news about the worker.
        worker.sendStatus(new WorkerStatus("gpu-7", "cuda", "NVIDIA H100", 80L << 30, "0.1.0", "25", "node-4",
                Instant.now(), UUID.randomUUID(), 1));
        await().atMost(PATIENCE).until(() ->
                runs.count("select count(*) from worker where id = 'gpu-7' and host = 'node-4' and current_run_id is null") == 1);
        assertThat(runs.count("select count(*) from worker where id = 'gpu-7' and device_memory_bytes = ? and first_seen_at <= last_seen_at",
                80L << 30)).isEqualTo(1);
    }
    @Test
    void statusChangesNotifyTheLiveFeedOnCommit() throws Exception {
        try (Connection listener = dataSource.getConnection(); Statement st = listener.createStatement()) {
            st.execute("LISTEN run_updates");
            st.execute("LISTEN queue_updates");
            UUID run = runningRun(3);
            worker.send(worker.terminal(run, 1, 1, EventType.SUCCEEDED));
            List<PGNotification> received = new ArrayList<>();
            PGConnection pg = listener.unwrap(PGConnection.class);
            await().atMost(PATIENCE).until(() -> {
                PGNotification[] batch = pg.getNotifications(200);
                if (batch != null) received.addAll(List.of(batch));
                return runs.status(run).equals("SUCCEEDED") && received.stream()
                        .filter(n -> n.getName().equals("run_updates") && n.getParameter().equals(run.toString())).count() >= 3;
            });
            // DISPATCHED, RUNNING and SUCCEEDED each told the feed about the run, and the queue changed.
            assertThat(received).anyMatch(n -> n.getName().equals("queue_updates"));
        }
    }
    /**
     * Not a benchmark gate (the build machine is shared), a measurement with a correctness check: 1000
     * METRICS events of 20 points for one run (one partition, so strictly serial transactions) all land
     * exactly once; the rate is logged.
     */
    @Test
    void aLongSeriesIsIngestedCompletelyAndTheRateIsLogged() {
        UUID run = runningRun(3);
        int events = 1000, points = 20;
        long t0 = System.nanoTime();
        for (int i = 0; i < events; i++) {
            RunEvent e = worker.metrics(run, 1, 1 + i, i * points, (i + 1) * points);
            worker.sendAsync(e);
        }
        worker.flush();
        double produced = (System.nanoTime() - t0) / 1e9;
        await().atMost(Duration.ofSeconds(120)).until(() ->
                runs.count("select count(*) from run_event where run_id = ? and type = 'METRICS'", run) == events);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertThat(runs.count("select count(*) from metric_point where run_id = ?", run)).isEqualTo((long) events * points);
        LoggerFactory.getLogger(getClass()).info("ingested {} events ({} points) in {} s (produced in {} s): {} events/s, {} points/s",
                events, events * points, String.format("%.2f", seconds), String.format("%.2f", produced), String.format("%.0f", events / seconds),
                String.format("%.0f", events * points / seconds));
    }
}
