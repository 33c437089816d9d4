package org.ccalab.worker.system;

import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import java.nio.file.Path;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * {@code ccalab.worker.*}.
 *
 * @param id                 stable worker id; blank: host name plus a random suffix, new at every start
 * @param heartbeatInterval  HEARTBEAT events of a running attempt (the scheduler's lease counts these)
 * @param statusInterval     {@code workers.status} announcements
 * @param metricsBatchSize   points per METRICS event before a flush is forced
 * @param metricsFlushInterval the longest a reported point waits before it is sent
 * @param checkpointDir      where runs write checkpoints; a volume shared by all workers so that a retry
 *                           on another worker resumes from it
 * @param releaseOnShutdown  a worker stopped while running reports FAILED(LOST_WORKER) so that the scheduler
 *                           retries at once; false leaves the run to the lease watchdog, as a killed worker would
 * @param shutdownGrace      how long stopping waits for the running attempt to reach a step boundary
 * @param sendTimeout        how long an event may wait for the broker before the run is abandoned
 * @param requestPartitions  partitions of runs.requested when this worker creates it; bounds parallelism
 */
@Validated
@ConfigurationProperties("ccalab.worker")
public record WorkerProperties(
        String id,
        @NotNull @DefaultValue("3s") Duration heartbeatInterval,
        @NotNull @DefaultValue("5s") Duration statusInterval,
        @Min(1) @DefaultValue("50") int metricsBatchSize,
        @NotNull @DefaultValue("1s") Duration metricsFlushInterval,
        @NotNull @DefaultValue(".ccalab/checkpoints") Path checkpointDir,
        @DefaultValue("true") boolean releaseOnShutdown,
        @NotNull @DefaultValue("20s") Duration shutdownGrace,
        @NotNull @DefaultValue("30s") Duration sendTimeout,
        @Min(1) @DefaultValue("8") int requestPartitions) {
}
