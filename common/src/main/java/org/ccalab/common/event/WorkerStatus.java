package org.ccalab.common.event;

import java.time.Instant;
import java.util.UUID;

/**
 * Topic {@code workers.status}, key = workerId: a worker announcing itself and heartbeating, with the
 * run it holds (null when idle).
 */
public record WorkerStatus(String workerId, String backend, String device, long deviceMemoryBytes, String engineVersion,
                           String jvm, String host, Instant time, UUID currentRunId, Integer currentAttempt) {}
