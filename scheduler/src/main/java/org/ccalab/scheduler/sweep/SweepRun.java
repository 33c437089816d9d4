package org.ccalab.scheduler.sweep;

import java.util.UUID;

/** A run of the sweep as the job reads it: spec is the stored RunSpec JSON. */
record SweepRun(UUID id, int ordinal, String kind, String family, long seed, String status, String spec) {}
