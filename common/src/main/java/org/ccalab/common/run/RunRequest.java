package org.ccalab.common.run;

import java.util.UUID;

/**
 * Topic {@code runs.requested}, key = runId. One dispatch of one attempt. {@code resumeFrom} is the
 * checkpoint URI of the last attempt, or null to start fresh.
 */
public record RunRequest(UUID runId, int attempt, UUID experimentId, RunSpec spec, String resumeFrom) {}
