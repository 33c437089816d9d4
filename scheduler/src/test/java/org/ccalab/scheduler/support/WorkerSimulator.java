package org.ccalab.scheduler.support;

import java.time.Instant;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.event.EnvironmentFingerprint;
import org.ccalab.common.event.EventType;
import org.ccalab.common.event.Failure;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.event.MetricPoint;
import org.ccalab.common.event.RunEvent;
import org.ccalab.common.event.WorkerStatus;
import org.ccalab.common.run.Topics;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/** Publishes run events on runs.events exactly as a gpu-worker does (key = runId, JSON value). */
@Component
public class WorkerSimulator {
    public static final EnvironmentFingerprint ENV = new EnvironmentFingerprint("abc123", false, "0.1.0", "none",
            "cpu", "none", "none", "none", "25", "test-host");

    private final KafkaTemplate<String, String> kafka;
    private final JsonMapper json;

    public WorkerSimulator(KafkaTemplate<String, String> kafka, JsonMapper json) {
        this.kafka = kafka;
        this.json = json;
    }

    public void send(RunEvent event) {
        sendRaw(event.runId().toString(), json.writeValueAsString(event));
    }

    /** Without waiting for the broker's acknowledgement: for volume. Call {@link #flush} after the last. */
    public void sendAsync(RunEvent event) {
        kafka.send(Topics.RUNS_EVENTS, event.runId().toString(), json.writeValueAsString(event));
    }

    public void flush() {
        kafka.flush();
    }

    public void sendStatus(WorkerStatus status) {
        send(Topics.WORKERS, status.workerId(), json.writeValueAsString(status));
    }

    public void sendRaw(String key, String value) {
        send(Topics.RUNS_EVENTS, key, value);
    }

    private void send(String topic, String key, String value) {
        try {
            kafka.send(topic, key, value).get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public RunEvent started(UUID run, int attempt, long seq) {
        return RunEvent.of(run, attempt, seq, EventType.STARTED, "worker-1").withEnvironment(ENV);
    }

    public RunEvent heartbeat(UUID run, int attempt, long seq) {
        return RunEvent.of(run, attempt, seq, EventType.HEARTBEAT, "worker-1");
    }

    /** Loss points for steps [from, to), value a function of the step so a replay carries the same numbers. */
    public RunEvent metrics(UUID run, int attempt, long seq, int from, int to) {
        List<MetricPoint> points = java.util.stream.IntStream.range(from, to)
                .mapToObj(s -> new MetricPoint("train/loss", s, 5.0 / (s + 1), 64L * s, s * 0.1)).toList();
        return RunEvent.of(run, attempt, seq, EventType.METRICS, "worker-1").withMetrics(points);
    }

    public RunEvent checkpoint(UUID run, int attempt, long seq, long step) {
        return RunEvent.of(run, attempt, seq, EventType.CHECKPOINT, "worker-1")
                .withCheckpoint(new CheckpointRef(step, "file:/ckpt/" + run + "/step-" + step, "0".repeat(64), 1024));
    }

    public RunEvent failed(UUID run, int attempt, long seq, FailureClass failureClass, String message) {
        return RunEvent.of(run, attempt, seq, EventType.FAILED, "worker-1").withFailure(new Failure(failureClass, message));
    }

    public RunEvent terminal(UUID run, int attempt, long seq, EventType type) {
        return new RunEvent(UUID.randomUUID(), run, attempt, seq, type, Instant.now(), "worker-1",
                null, null, null, null, null, null);
    }
}
