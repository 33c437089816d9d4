package org.ccalab.api.experiment;

import java.time.Instant;
import java.util.UUID;

/** An experiment as stored, with its run counts (one aggregate per row, never per run). */
record ExperimentRow(UUID id, String name, String description, String kind, String status, int priority,
                     String requestJson, Instant createdAt, Instant updatedAt, Instant cancelRequestedAt,
                     RunCounts runs) {}
