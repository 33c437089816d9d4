package org.ccalab.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.ccalab.common.event.EventType;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.event.MetricPoint;
import org.ccalab.common.event.RunEvent;
import org.ccalab.common.event.WorkerStatus;
import org.ccalab.common.run.RunControl;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunRequest;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.Topics;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.engine.run.RunFailedException;
import org.ccalab.worker.execute.RunExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.kafka.core.DefaultKafkaConsumerFactory;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.test.EmbeddedKafkaBroker;
import org.springframework.kafka.test.context.EmbeddedKafka;
import org.springframework.kafka.test.utils.KafkaTestUtils;
import tools.jackson.databind.json.JsonMapper;

/**
 * The worker against a real (embedded KRaft) broker with a scripted engine: what the scheduler would see on
 * runs.events for a run that succeeds, one that is cancelled, fenced, or fails, and a poison request.
 */
@SpringBootTest(properties = {
        "spring.config.name=gpu-worker",
        "spring.kafka.bootstrap-servers=${spring.embedded.kafka.brokers}",
        "ccalab.worker.id=test-worker",
        "ccalab.worker.heartbeat-interval=200ms",
        "ccalab.worker.status-interval=300ms",
        "ccalab.worker.metrics-batch-size=4",
        "ccalab.worker.metrics-flush-interval=10s",
        "ccalab.worker.checkpoint-dir=${java.io.tmpdir}/ccalab-worker-test",
        // Far below any real run's length: a consumer blocked for a run's duration would be evicted.
        "spring.kafka.consumer.properties.max.poll.interval.ms=1500"})
@EmbeddedKafka // topics come from the worker's own declarations, with their partition counts
class WorkerKafkaTest {

    @TestConfiguration
    static class Engines {
        @Bean
        @org.springframework.context.annotation.Primary
        ScriptedEngine scriptedEngine() {
            return new ScriptedEngine();
        }
    }

    @Autowired EmbeddedKafkaBroker broker;
    @Autowired KafkaTemplate<String, String> kafka;
    @Autowired JsonMapper json;
    @Autowired ScriptedEngine engine;
    @Autowired RunExecutor executor;

    private Consumer<String, String> consumer;
    private final List<ConsumerRecord<String, String>> seen = new CopyOnWriteArrayList<>();

    @BeforeEach
    void subscribe() {
        engine.stepMillis = 20;
        engine.failAtStep5 = null;
        engine.refuseDeterministic = null;
        engine.stepsRun.clear();
        engine.specs.clear();
        Map<String, Object> props = KafkaTestUtils.consumerProps(broker, "probe-" + UUID.randomUUID(), false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        consumer = new DefaultKafkaConsumerFactory<>(props, new StringDeserializer(), new StringDeserializer()).createConsumer();
        consumer.subscribe(List.of(Topics.RUNS_EVENTS, Topics.WORKERS, Topics.RUNS_REQUESTED + Topics.DLT_SUFFIX));
    }

    @AfterEach
    void close() {
        consumer.close();
    }

    @Test
    void runRequestProducesStartedThroughSucceededInOrderWithEveryPointOnce() {
        UUID runId = request(30, null);

        List<RunEvent> events = eventsUntilTerminal(runId);

        assertThat(events.getFirst().type()).isEqualTo(EventType.STARTED);
        assertThat(events.getFirst().environment().backend()).isEqualTo("cpu");
        assertThat(events.getLast().type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(events).extracting(RunEvent::seq).containsExactly(
                java.util.stream.LongStream.rangeClosed(1, events.size()).boxed().toArray(Long[]::new));
        assertThat(events).extracting(RunEvent::workerId).containsOnly("test-worker");
        assertThat(events).extracting(RunEvent::type).contains(EventType.HEARTBEAT, EventType.METRICS, EventType.CHECKPOINT);
        assertThat(steps(events)).containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, 30).boxed().toList());
        // Points reported before a checkpoint are on the broker before it: a resume from it loses none.
        for (int i = 0; i < events.size(); i++) {
            if (events.get(i).type() != EventType.CHECKPOINT) continue;
            long cp = events.get(i).checkpoint().step();
            assertThat(steps(events.subList(0, i))).as("points sent before checkpoint %d", cp).contains(cp);
        }
    }

    @Test
    void aRunLongerThanMaxPollIntervalIsTakenOnce() {
        engine.stepMillis = 100;
        UUID runId = request(40, null); // about 4 s, against max.poll.interval.ms = 1.5 s

        List<RunEvent> events = eventsUntilTerminal(runId);

        assertThat(events.getLast().type()).isEqualTo(EventType.SUCCEEDED);
        // A consumer blocked for the run would be evicted, its uncommitted request delivered and started again.
        assertThat(events).filteredOn(e -> e.type() == EventType.STARTED).hasSize(1);
        assertThat(engine.stepsRun).hasSize(40);
        UUID next = request(3, null);
        assertThat(eventsUntilTerminal(next).getLast().type()).isEqualTo(EventType.SUCCEEDED);
    }

    @Test
    void resumeFromACheckpointRunsOnlyTheStepsAfterIt() {
        UUID runId = request(12, "file:/tmp/x#step-10");

        List<RunEvent> events = eventsUntilTerminal(runId);

        assertThat(events.getLast().type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(steps(events)).containsExactly(11L, 12L);
    }

    @Test
    void cancelStopsTheRunAtTheNextStepAndReportsCancelled() {
        engine.stepMillis = 100;
        UUID runId = request(1000, null);
        awaitEvent(runId, EventType.STARTED);

        send(Topics.RUNS_CONTROL, runId, new RunControl(runId, 1, RunControl.Action.CANCEL));

        List<RunEvent> events = eventsUntilTerminal(runId);
        assertThat(events.getLast().type()).isEqualTo(EventType.CANCELLED);
        assertThat(engine.stepsRun.size()).isLessThan(200);
        // The device is free again: the next request runs.
        UUID next = request(3, null);
        assertThat(eventsUntilTerminal(next).getLast().type()).isEqualTo(EventType.SUCCEEDED);
    }

    @Test
    void fenceStopsTheRunWithoutATerminalEvent() {
        engine.stepMillis = 100;
        UUID runId = request(1000, null);
        awaitEvent(runId, EventType.STARTED);

        send(Topics.RUNS_CONTROL, runId, new RunControl(runId, 1, RunControl.Action.FENCE));

        await().atMost(Duration.ofSeconds(20)).until(() -> workerIdle());
        int stepsAtStop = engine.stepsRun.size();
        assertThat(stepsAtStop).isLessThan(200);
        UUID next = request(3, null);
        assertThat(eventsUntilTerminal(next).getLast().type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(events(runId)).extracting(RunEvent::type).noneMatch(EventType::terminal);
    }

    @Test
    void aCancelArrivingBeforeItsRequestMeansTheRunNeverStarts() {
        UUID runId = UUID.randomUUID();
        send(Topics.RUNS_CONTROL, runId, new RunControl(runId, 1, RunControl.Action.CANCEL));
        await().atMost(Duration.ofSeconds(10)).pollDelay(Duration.ofMillis(500)).until(() -> true);

        sendRequest(runId, 5, null);

        List<RunEvent> events = eventsUntilTerminal(runId);
        assertThat(events).extracting(RunEvent::type).containsExactly(EventType.CANCELLED);
        assertThat(engine.stepsRun).isEmpty();
    }

    @Test
    void engineFailureIsReportedWithItsClass() {
        engine.failAtStep5 = new RunFailedException(FailureClass.DIVERGED, "loss is NaN at step 5");
        UUID runId = request(20, null);

        RunEvent last = eventsUntilTerminal(runId).getLast();

        assertThat(last.type()).isEqualTo(EventType.FAILED);
        assertThat(last.failure().failureClass()).isEqualTo(FailureClass.DIVERGED);
        assertThat(last.failure().message()).contains("NaN");
    }

    @Test
    void unexpectedEngineErrorIsACodeError() {
        engine.failAtStep5 = new IllegalStateException("bug");
        UUID runId = request(20, null);

        RunEvent last = eventsUntilTerminal(runId).getLast();

        assertThat(last.failure().failureClass()).isEqualTo(FailureClass.CODE_ERROR);
        assertThat(last.failure().message()).contains("IllegalStateException", "bug");
    }

    @Test
    void aRequestWithAnInvalidSpecFailsAsInvalidConfig() {
        UUID runId = UUID.randomUUID();
        String bad = """
                {"runId":"%s","attempt":1,"spec":{"kind":"TRAINING","seed":1,
                 "variant":{"family":"mha","dModel":64,"nHeads":5},"training":{"steps":3}}}""".formatted(runId);
        kafka.send(Topics.RUNS_REQUESTED, runId.toString(), bad).join();

        RunEvent last = eventsUntilTerminal(runId).getLast();

        assertThat(last.failure().failureClass()).isEqualTo(FailureClass.INVALID_CONFIG);
        assertThat(last.failure().message()).contains("nHeads");
    }

    @Test
    void aDeterministicRequestReachesTheEngineAndItsStartedEventSaysSo() {
        UUID det = UUID.randomUUID();
        // As the scheduler sends it: the option inside the kind's spec, in JSON.
        kafka.send(Topics.RUNS_REQUESTED, det.toString(), """
                {"runId":"%s","attempt":1,"spec":{"kind":"TRAINING","seed":1,
                 "variant":{"family":"mha","dModel":64,"nHeads":4},"training":{"steps":3,"deterministic":true}}}"""
                .formatted(det)).join();
        List<RunEvent> events = eventsUntilTerminal(det);
        assertThat(events.getLast().type()).isEqualTo(EventType.SUCCEEDED);
        assertThat(engine.specs).singleElement().satisfies(s -> {
            assertThat(s.deterministic()).isTrue();
            assertThat(s.training().deterministic()).isTrue();
        });
        assertThat(events.getFirst().environment().deterministicBackward()).isTrue();

        UUID plain = request(3, null);
        assertThat(eventsUntilTerminal(plain).getFirst().environment().deterministicBackward()).isFalse();
        assertThat(engine.specs.getLast().deterministic()).isFalse();
    }

    @Test
    void aDeterministicRunTheEngineCannotHonourFailsAsInvalidConfigWithTheReason() {
        engine.refuseDeterministic = "deterministic=true: no deterministic backward for head dim 256 on the mma.sync kernels";
        UUID runId = UUID.randomUUID();
        TrainingSpec training = new TrainingSpec(null, null, null, null, null, 20, null, null, null, null, null, null, null, true);
        send(Topics.RUNS_REQUESTED, runId, new RunRequest(runId, 1, UUID.randomUUID(),
                new RunSpec(RunKind.TRAINING, new MhaConfig(64, 4), 7, null, training), null));

        List<RunEvent> events = eventsUntilTerminal(runId);

        assertThat(events.getLast().type()).isEqualTo(EventType.FAILED);
        assertThat(events.getLast().failure().failureClass()).isEqualTo(FailureClass.INVALID_CONFIG);
        assertThat(events.getLast().failure().message()).contains("deterministic=true", "head dim 256");
        assertThat(engine.stepsRun).as("never run non-deterministically").isEmpty();
        // A run that does not ask still runs on the same worker.
        assertThat(eventsUntilTerminal(request(3, null)).getLast().type()).isEqualTo(EventType.SUCCEEDED);
    }

    @Test
    void aPoisonRequestGoesToTheDeadLetterTopicAndTheWorkerCarriesOn() {
        kafka.send(Topics.RUNS_REQUESTED, "poison", "this is not json").join();

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            poll();
            assertThat(seen).anyMatch(r -> r.topic().equals(Topics.RUNS_REQUESTED + Topics.DLT_SUFFIX)
                    && r.value().equals("this is not json"));
        });
        UUID next = request(3, null);
        assertThat(eventsUntilTerminal(next).getLast().type()).isEqualTo(EventType.SUCCEEDED);
    }

    @Test
    void theWorkerAnnouncesItselfWithItsBackendAndDevice() {
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            poll();
            List<WorkerStatus> statuses = seen.stream().filter(r -> r.topic().equals(Topics.WORKERS))
                    .map(r -> json.readValue(r.value(), WorkerStatus.class)).toList();
            assertThat(statuses).isNotEmpty();
            WorkerStatus s = statuses.getLast();
            assertThat(s.workerId()).isEqualTo("test-worker");
            assertThat(s.backend()).isEqualTo("cpu");
            assertThat(s.device()).startsWith("cpu x");
            assertThat(s.deviceMemoryBytes()).isPositive();
            assertThat(s.engineVersion()).isEqualTo("test");
        });
    }

    private UUID request(int steps, String resumeFrom) {
        UUID runId = UUID.randomUUID();
        sendRequest(runId, steps, resumeFrom);
        return runId;
    }

    private void sendRequest(UUID runId, int steps, String resumeFrom) {
        TrainingSpec training = new TrainingSpec(null, null, null, null, null, steps, null, null, null, null, null, null, null);
        RunSpec spec = new RunSpec(RunKind.TRAINING, new MhaConfig(64, 4), 7, null, training);
        send(Topics.RUNS_REQUESTED, runId, new RunRequest(runId, 1, UUID.randomUUID(), spec, resumeFrom));
    }

    private void send(String topic, UUID key, Object value) {
        kafka.send(topic, key.toString(), json.writeValueAsString(value)).join();
    }

    private boolean workerIdle() {
        return executor.current().isEmpty();
    }

    private void awaitEvent(UUID runId, EventType type) {
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            poll();
            return events(runId).stream().anyMatch(e -> e.type() == type);
        });
    }

    private List<RunEvent> eventsUntilTerminal(UUID runId) {
        await().atMost(Duration.ofSeconds(60)).until(() -> {
            poll();
            return events(runId).stream().anyMatch(e -> e.type().terminal());
        });
        return events(runId);
    }

    private List<RunEvent> events(UUID runId) {
        return seen.stream().filter(r -> r.topic().equals(Topics.RUNS_EVENTS) && r.key().equals(runId.toString()))
                .map(r -> json.readValue(r.value(), RunEvent.class)).toList();
    }

    private void poll() {
        consumer.poll(Duration.ofMillis(200)).forEach(seen::add);
    }

    private static List<Long> steps(List<RunEvent> events) {
        List<Long> steps = new ArrayList<>();
        events.stream().filter(e -> e.type() == EventType.METRICS)
                .forEach(e -> e.metrics().stream().map(MetricPoint::step).forEach(steps::add));
        return steps;
    }
}
