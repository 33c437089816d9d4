package org.ccalab.common.event;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * Topic {@code runs.events}, key = runId so that one run's events stay ordered. Ingestion is idempotent
 * on (runId, attempt, seq); eventId is unique per event. Only the payload fields of the type are set.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RunEvent(UUID eventId, UUID runId, int attempt, long seq, EventType type, Instant time,
                       String workerId, EnvironmentFingerprint environment, List<MetricPoint> metrics,
                       List<BenchmarkCell> cells, CheckpointRef checkpoint, Failure failure, String message) {

    public static RunEvent of(UUID runId, int attempt, long seq, EventType type, String workerId) {
        return new RunEvent(UUID.randomUUID(), runId, attempt, seq, type, Instant.now(), workerId,
                null, null, null, null, null, null);
    }

    public RunEvent withEnvironment(EnvironmentFingerprint env) {
        return new RunEvent(eventId, runId, attempt, seq, type, time, workerId, env, metrics, cells, checkpoint, failure, message);
    }

    public RunEvent withMetrics(List<MetricPoint> points) {
        return new RunEvent(eventId, runId, attempt, seq, type, time, workerId, environment, List.copyOf(points), cells, checkpoint, failure, message);
    }

    public RunEvent withCells(List<BenchmarkCell> c) {
        return new RunEvent(eventId, runId, attempt, seq, type, time, workerId, environment, metrics, List.copyOf(c), checkpoint, failure, message);
    }

    public RunEvent withCheckpoint(CheckpointRef ref) {
        return new RunEvent(eventId, runId, attempt, seq, type, time, workerId, environment, metrics, cells, ref, failure, message);
    }

    public RunEvent withFailure(Failure f) {
        return new RunEvent(eventId, runId, attempt, seq, type, time, workerId, environment, metrics, cells, checkpoint, f, message);
    }

    public RunEvent withMessage(String m) {
        return new RunEvent(eventId, runId, attempt, seq, type, time, workerId, environment, metrics, cells, checkpoint, failure, m);
    }
}
