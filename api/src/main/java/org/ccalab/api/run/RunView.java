package org.ccalab.api.run;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.ccalab.api.system.Links;
import tools.jackson.databind.JsonNode;

/**
 * A run as the api shows it. Lists carry the summary; {@code GET /api/runs/{id}} adds the environment of
 * each attempt, the checkpoints and the metric series available. {@code grid} is the run's point of its
 * experiment's sweep ({@code {"seqLen": 1024, "seed": 1}}: the keys the submission's grid swept, with this run's
 * values), absent when the submission had no grid; the variant, the other axis of a sweep, is {@code variant}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record RunView(UUID id, UUID experimentId, String experimentName, int ordinal, String kind, String family,
                      String status, int priority, int attempt, int maxAttempts, String workerId, Failure failure,
                      long seed, String configHash, JsonNode variant, JsonNode spec, JsonNode grid, Instant createdAt,
                      Instant admittedAt, Instant dispatchedAt, Instant startedAt, Instant finishedAt,
                      Instant lastHeartbeatAt, Instant cancelRequestedAt, String lastCheckpointUri, Instant updatedAt,
                      List<Environment> environments, List<Checkpoint> checkpoints, List<MetricSeriesInfo> metrics,
                      Long cellCount, @JsonProperty("_links") Map<String, Links.Href> links) {

    public record Failure(String failureClass, String message) {}

    /**
     * {@code deterministicBackward}: whether this attempt's backward gave the same bits on every run (true on the CPU
     * backend, by construction; on CUDA when the run's {@code deterministic} or the worker's default asked); null when
     * the worker did not record it.
     */
    public record Environment(int attempt, String gitCommit, boolean gitDirty, String engineVersion,
                              String kernelBuildHash, String backend, String gpuModel, String driverVersion,
                              String cudaVersion, String jvm, String host, Boolean deterministicBackward,
                              Instant recordedAt) {}

    public record Checkpoint(long step, String uri, String sha256, long bytes, int attempt, Instant createdAt) {}

    /** One metric series: its name, how many points, the step range and the latest value. */
    public record MetricSeriesInfo(String name, long points, long firstStep, long lastStep, double lastValue) {}

    static RunView summary(RunRow r, JsonNode variant, JsonNode spec, JsonNode grid) {
        return of(r, variant, spec, grid, null, null, null, null);
    }

    static RunView of(RunRow r, JsonNode variant, JsonNode spec, JsonNode grid, List<Environment> environments,
                      List<Checkpoint> checkpoints, List<MetricSeriesInfo> metrics, Long cellCount) {
        String self = "/api/runs/" + r.id();
        Failure failure = r.failureClass() == null && r.failureMessage() == null ? null
                : new Failure(r.failureClass(), r.failureMessage());
        return new RunView(r.id(), r.experimentId(), r.experimentName(), r.ordinal(), r.kind(), r.family(), r.status(),
                r.priority(), r.attempt(), r.maxAttempts(), r.workerId(), failure, r.seed(), r.configHash(), variant,
                spec, grid, r.createdAt(), r.admittedAt(), r.dispatchedAt(), r.startedAt(), r.finishedAt(), r.lastHeartbeatAt(),
                r.cancelRequestedAt(), r.lastCheckpointUri(), r.updatedAt(), environments, checkpoints, metrics, cellCount,
                Links.of("self", self, "experiment", "/api/experiments/" + r.experimentId(), "metrics", self + "/metrics",
                        "cells", self + "/cells", "events", self + "/events", "cancel", self + "/cancel",
                        "live", "/api/live/runs/" + r.id()));
    }
}
