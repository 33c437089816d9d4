package org.ccalab.api.run;

import java.time.Instant;
import java.util.UUID;

/**
 * A run as stored (the JSON columns as text). {@code gridJson}: the run's point of its experiment's grid,
 * {@code {key: value}} for each key the submission's {@code grid} swept, the value as the run's spec holds it;
 * null when the submission had no grid.
 */
public record RunRow(UUID id, UUID experimentId, String experimentName, int ordinal, String kind, String family, String status,
              int priority, int attempt, int maxAttempts, String workerId, String failureClass, String failureMessage,
              long seed, String configHash, String variantJson, String specJson, Instant createdAt, Instant admittedAt,
              Instant dispatchedAt, Instant startedAt, Instant finishedAt, Instant lastHeartbeatAt,
              Instant cancelRequestedAt, String lastCheckpointUri, Instant updatedAt, String gridJson) {}
