package org.ccalab.scheduler.system;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Everything tunable in the scheduler, under {@code ccalab.scheduler.*}; validated at start-up so a bad
 * value stops the context with the property named.
 *
 * @param leaseTimeout         a RUNNING run whose last heartbeat is older than this is presumed lost
 * @param dispatchLeaseTimeout a DISPATCHED run no worker has STARTED within this is presumed lost. Only a
 *                             safety net for a lost record: Kafka itself hands an untaken request (offset not
 *                             committed) to another worker when its consumer dies, and a request may
 *                             legitimately wait in a busy worker's partition for as long as a run takes
 * @param workerFreshness      a worker seen on {@code workers.status} within this counts as capacity
 * @param prefetch             runs dispatched beyond the live workers' capacity, so a worker finishing
 *                             finds its next run waiting. Default 0: a worker pauses its partitions while it
 *                             runs, so a prefetched request waits a whole run, out of priority order
 * @param sendTimeout          how long a dispatch or control send is awaited before its transaction rolls back
 */
@Validated
@ConfigurationProperties("ccalab.scheduler")
public record SchedulerProperties(
        @NotNull @DefaultValue("15s") Duration leaseTimeout,
        @NotNull @DefaultValue("30m") Duration dispatchLeaseTimeout,
        @NotNull @DefaultValue("30s") Duration workerFreshness,
        @Min(0) @Max(64) @DefaultValue("0") int prefetch,
        @NotNull @DefaultValue("10s") Duration sendTimeout,
        @Valid @NotNull @DefaultValue Loops loops,
        @Valid @NotNull @DefaultValue Sweep sweep,
        @Valid @NotNull @DefaultValue Partitions partitions,
        @Valid @NotNull @DefaultValue Listener listener) {

    /** The periodic loops; each can be switched off (tests drive one loop at a time). */
    public record Loops(@DefaultValue("true") boolean dispatch, @NotNull @DefaultValue("500ms") Duration dispatchInterval,
                        @DefaultValue("true") boolean watchdog, @NotNull @DefaultValue("1s") Duration watchdogInterval,
                        @DefaultValue("true") boolean sweep, @NotNull @DefaultValue("1s") Duration sweepInterval) {}

    /**
     * @param chunkSize    runs validated/admitted per committed chunk (the restart granularity)
     * @param restartDelay a FAILED sweep job is restarted once its last execution ended this long ago
     * @param staleAfter   an execution still marked running with no commit for this long was left by a
     *                     scheduler that died: it is recovered to FAILED and restarted
     */
    public record Sweep(@Min(1) @Max(1000) @DefaultValue("50") int chunkSize,
                        @NotNull @DefaultValue("30s") Duration restartDelay,
                        @NotNull @DefaultValue("5m") Duration staleAfter) {}

    /** Partition counts of the topics this service creates; runs.requested bounds the useful worker count. */
    public record Partitions(@Min(4) @DefaultValue("8") int runsRequested, @Min(1) @DefaultValue("8") int runsEvents,
                             @Min(1) @DefaultValue("1") int runsControl, @Min(1) @DefaultValue("1") int workersStatus) {}

    /**
     * @param retries       redeliveries of a failing record before it goes to its dead-letter topic
     * @param retryInterval initial backoff between them (doubles each time)
     * @param concurrency   consumer threads of the runs.events listener
     */
    public record Listener(@Min(0) @Max(20) @DefaultValue("3") int retries,
                           @NotNull @DefaultValue("200ms") Duration retryInterval,
                           @Min(1) @Max(64) @DefaultValue("2") int concurrency) {}
}
