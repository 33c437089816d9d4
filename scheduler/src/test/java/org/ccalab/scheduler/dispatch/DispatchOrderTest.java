package org.ccalab.scheduler.dispatch;

import static org.ccalab.scheduler.support.Patience.PATIENCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import org.ccalab.common.event.EventType;
import org.ccalab.common.run.RunRequest;
import org.ccalab.common.run.Topics;
import org.ccalab.scheduler.support.ListenersReady;
import org.ccalab.scheduler.support.SchedulerIntegrationTest;
import org.ccalab.scheduler.support.TestRuns;
import org.ccalab.scheduler.support.TopicProbe;
import org.ccalab.scheduler.support.WorkerSimulator;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.test.context.TestPropertySource;
import tools.jackson.databind.json.JsonMapper;

/**
 * Dispatch through the real loops: the sweep job admits the runs, the dispatcher sends them one at a time
 * to the single live worker, which "runs" each by replying STARTED and SUCCEEDED on runs.events.
 */
@SchedulerIntegrationTest
// Leases are not what this class tests: long ones keep a slow machine from retrying its runs.
@TestPropertySource(properties = {"ccalab.scheduler.lease-timeout=60s", "ccalab.scheduler.dispatch-lease-timeout=60s"})
class DispatchOrderTest {
    @Autowired TestRuns runs;
    @Autowired WorkerSimulator worker;
    @Autowired JsonMapper json;
    @Autowired ListenersReady listeners;
    @Value("${spring.embedded.kafka.brokers}") String brokers;

    @Test
    void runsAreDispatchedByPriorityThenAgeThenOrdinalAndNeverBeyondCapacity() {
        listeners.awaitAssignments();
        // Created first but less urgent: must wait for the later, higher-priority experiment.
        UUID low = runs.experiment(0);
        List<UUID> lowRuns = List.of(run(low, 0, 0), run(low, 1, 0), run(low, 2, 0));
        UUID high = runs.experiment(5);
        List<UUID> highRuns = List.of(run(high, 0, 5), run(high, 1, 5));
        await().atMost(PATIENCE).until(() ->
                runs.count("select count(*) from run where admitted_at is not null") == 5);
        assertThat(runs.count("select count(*) from run where status <> 'QUEUED'"))
                .as("no worker is live yet, so nothing may be dispatched").isZero();

        runs.worker("worker-1");
        List<UUID> order = new ArrayList<>();
        Set<UUID> done = new HashSet<>();
        try (TopicProbe requests = new TopicProbe(brokers, Topics.RUNS_REQUESTED)) {
            while (order.size() < 5) {
                RunRequest next = await().atMost(PATIENCE).until(() -> requests.records(r -> true).stream()
                        .map(r -> json.readValue(r.value(), RunRequest.class))
                        .filter(r -> !done.contains(r.runId())).findFirst().orElse(null), r -> r != null);
                // The request can arrive before the dispatcher's commit (the send is awaited, then committed).
                await().atMost(PATIENCE).until(() -> runs.status(next.runId()).equals("DISPATCHED"));
                assertThat(runs.count("select count(*) from run where status in ('DISPATCHED', 'RUNNING')"))
                        .as("one live worker, no prefetch: one run in flight at a time").isEqualTo(1);
                assertThat(next.attempt()).isEqualTo(1);
                assertThat(next.spec().seed()).isEqualTo(runs.row(next.runId()).get("seed"));
                order.add(next.runId());
                done.add(next.runId());
                worker.send(worker.started(next.runId(), 1, 0));
                worker.send(worker.terminal(next.runId(), 1, 1, EventType.SUCCEEDED));
                await().atMost(PATIENCE).until(() -> runs.status(next.runId()).equals("SUCCEEDED"));
            }
        }
        List<UUID> expected = new ArrayList<>(highRuns);
        expected.addAll(lowRuns);
        assertThat(order).containsExactlyElementsOf(expected);
        await().atMost(PATIENCE).until(() -> runs.experimentStatus(low).equals("SUCCEEDED")
                && runs.experimentStatus(high).equals("SUCCEEDED"));
    }

    private UUID run(UUID experiment, int ordinal, int priority) {
        return runs.run(experiment, ordinal, priority, runs.validSpec(ordinal), false, 3);
    }
}
