package org.ccalab.worker.system;

import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.ccalab.common.event.EnvironmentFingerprint;
import org.ccalab.common.event.WorkerStatus;
import org.ccalab.common.run.RunRequest;
import org.ccalab.worker.execute.RunExecutor;
import org.ccalab.worker.publish.EventPublisher;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/** Announces the worker on workers.status at start and every status interval: backend, device, memory, versions, its run. */
@Component
class StatusAnnouncer implements SmartLifecycle {
    private static final Logger log = LoggerFactory.getLogger(StatusAnnouncer.class);

    private final EventPublisher publisher;
    private final RunExecutor executor;
    private final WorkerIdentity identity;
    private final WorkerProperties properties;
    private ScheduledExecutorService timer;
    private DeviceInfo device;

    StatusAnnouncer(EventPublisher publisher, RunExecutor executor, WorkerIdentity identity, WorkerProperties properties) {
        this.publisher = publisher;
        this.executor = executor;
        this.identity = identity;
        this.properties = properties;
    }

    @Override
    public void start() {
        EnvironmentFingerprint env = executor.environment();
        device = DeviceInfo.of(env);
        log.info("worker {} on {} backend, device {} ({} MiB)", identity.id(), device.backend(), device.device(),
                device.memoryBytes() >> 20);
        timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("worker-status").daemon().factory());
        long every = properties.statusInterval().toMillis();
        timer.scheduleAtFixedRate(this::announce, 0, every, TimeUnit.MILLISECONDS);
    }

    private void announce() {
        EnvironmentFingerprint env = executor.environment();
        RunRequest run = executor.current().orElse(null);
        try {
            publisher.status(new WorkerStatus(identity.id(), device.backend(), device.device(), device.memoryBytes(),
                    env.engineVersion(), env.jvm(), identity.host(), Instant.now(),
                    run == null ? null : run.runId(), run == null ? null : run.attempt()));
        } catch (RuntimeException e) {
            log.warn("status not announced: {}", e.toString());
        }
    }

    @Override
    public void stop() {
        if (timer != null) timer.shutdownNow();
        timer = null;
    }

    @Override
    public boolean isRunning() {
        return timer != null;
    }
}
