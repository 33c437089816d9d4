package org.ccalab.scheduler.dispatch;

import java.util.UUID;

/** The head of the queue, locked for this dispatch: spec is the stored RunSpec JSON. */
record QueuedRun(UUID id, UUID experimentId, int attempt, String spec, String lastCheckpointUri) {}
