package org.ccalab.api.experiment;

/** How many of an experiment's runs are in each state. */
public record RunCounts(long total, long queued, long dispatched, long running, long retrying, long succeeded,
                        long failed, long cancelled) {}
