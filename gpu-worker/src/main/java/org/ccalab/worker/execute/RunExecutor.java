package org.ccalab.worker.execute;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.ccalab.common.event.EnvironmentFingerprint;
import org.ccalab.common.event.Failure;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.RunRequest;
import org.ccalab.engine.run.Engine;
import org.ccalab.engine.run.RunStoppedException;
import org.ccalab.worker.publish.EventPublisher;
import org.ccalab.worker.system.WorkerIdentity;
import org.ccalab.worker.system.WorkerProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * Runs one attempt at a time on the engine (one worker = one device). {@link #take} runs on the Kafka
 * listener's thread and returns once STARTED is on the broker, so the listener can commit the request's
 * offset: from then on the run is the lease watchdog's to recover. The engine itself runs on a thread of its
 * own so that the listener keeps polling (paused) and never trips max.poll.interval.
 */
@Component
public class RunExecutor implements SmartLifecycle {
    private static final Logger log = LoggerFactory.getLogger(RunExecutor.class);

    private final Engine engine;
    private final EventPublisher publisher;
    private final WorkerIdentity identity;
    private final WorkerProperties properties;
    private final ScheduledExecutorService heartbeats;
    private final ExecutorService device;
    private final AtomicReference<RunSession> current = new AtomicReference<>();
    private volatile boolean running;

    public RunExecutor(Engine engine, EventPublisher publisher, WorkerIdentity identity, WorkerProperties properties) {
        this.engine = engine;
        this.publisher = publisher;
        this.identity = identity;
        this.properties = properties;
        this.heartbeats = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("run-heartbeat").daemon().factory());
        this.device = Executors.newSingleThreadExecutor(Thread.ofPlatform().name("run-engine").factory());
    }

    public EnvironmentFingerprint environment() {
        return engine.environment();
    }

    /** The attempt running now, if any (for status announcements). */
    public Optional<RunRequest> current() {
        return Optional.ofNullable(current.get()).map(RunSession::request);
    }

    /**
     * Emits STARTED, then runs the attempt in the background and calls {@code onDone} when it has ended.
     * Throws when STARTED cannot be sent, leaving the request uncommitted for redelivery.
     */
    public void take(RunRequest request, Runnable onDone) {
        if (!running) throw new IllegalStateException("worker is stopping; not taking run " + request.runId());
        RunSession session = new RunSession(request, identity.id(), publisher, properties.metricsBatchSize(),
                properties.metricsFlushInterval());
        if (!current.compareAndSet(null, session)) {
            throw new IllegalStateException("already running " + current.get().request().runId() + "; one run per device");
        }
        try {
            // The run's own fingerprint: it says whether this attempt's backward is deterministic (the spec's
            // deterministic, or the worker-wide -Dccalab.flash.deterministic on CUDA; always on the CPU).
            session.started(engine.environment(request.spec()));
        } catch (RuntimeException e) {
            current.set(null);
            throw e;
        }
        log.info("run {} attempt {} started ({} {}{})", request.runId(), request.attempt(), request.spec().kind(),
                request.spec().variant().getClass().getSimpleName(), request.spec().deterministic() ? ", deterministic" : "");
        long every = properties.heartbeatInterval().toMillis();
        ScheduledFuture<?> beat = heartbeats.scheduleAtFixedRate(() -> heartbeat(session), every, every, TimeUnit.MILLISECONDS);
        device.execute(() -> {
            try {
                execute(session);
            } finally {
                beat.cancel(false);
                current.compareAndSet(session, null);
                onDone.run();
            }
        });
    }

    /** Asks the attempt holding {@code runId} to stop at its next step; attempt null matches any attempt. */
    public boolean stop(UUID runId, Integer attempt, StopReason reason) {
        RunSession session = current.get();
        if (session == null || !session.request().runId().equals(runId)) return false;
        if (attempt != null && session.request().attempt() > attempt) return false; // a newer attempt is not fenced
        session.requestStop(reason);
        log.info("run {} attempt {}: stop requested ({})", runId, session.request().attempt(), reason);
        return true;
    }

    private void execute(RunSession session) {
        RunRequest request = session.request();
        try {
            Path workDir = properties.checkpointDir().resolve(request.runId().toString());
            Files.createDirectories(workDir);
            engine.run(request.spec(), workDir, request.resumeFrom(), session);
            session.succeeded();
            log.info("run {} attempt {} succeeded", request.runId(), request.attempt());
        } catch (RunStoppedException e) {
            stopped(session, e.getMessage());
        } catch (Throwable t) {
            if (session.stopReason() == StopReason.FENCE) {
                session.abandon();
                return;
            }
            Failure failure = FailureClassifier.classify(t instanceof UncheckedIOException u ? u.getCause() : t);
            log.warn("run {} attempt {} failed: {} {}", request.runId(), request.attempt(), failure.failureClass(),
                    failure.message(), t);
            reportQuietly(session, failure);
        }
    }

    private void stopped(RunSession session, String where) {
        RunRequest request = session.request();
        StopReason reason = session.stopReason();
        log.info("run {} attempt {} {} ({})", request.runId(), request.attempt(), where, reason);
        if (reason == StopReason.CANCEL) {
            session.cancelled();
        } else if (reason == StopReason.SHUTDOWN && properties.releaseOnShutdown()) {
            reportQuietly(session, new Failure(FailureClass.LOST_WORKER, "worker " + identity.id() + " stopped"));
        } else {
            session.abandon(); // fenced, or left to the lease watchdog like a killed worker
        }
    }

    private void reportQuietly(RunSession session, Failure failure) {
        try {
            session.failed(failure);
        } catch (RuntimeException e) {
            // The broker is unreachable: the lease lapses and the watchdog retries the run.
            log.error("run {}: could not report {}", session.request().runId(), failure, e);
        }
    }

    private void heartbeat(RunSession session) {
        try {
            session.heartbeat();
        } catch (RuntimeException e) {
            log.warn("run {}: heartbeat not sent: {}", session.request().runId(), e.toString());
        }
    }

    @Override
    public void start() {
        running = true;
    }

    /** Before the listener containers stop (higher phase), so the attempt can still report while Kafka is up. */
    @Override
    public void stop() {
        running = false;
        RunSession session = current.get();
        if (session != null) session.requestStop(StopReason.SHUTDOWN);
        device.shutdown();
        try {
            if (!device.awaitTermination(properties.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)) {
                log.warn("run did not reach a step boundary within {}; abandoning it", properties.shutdownGrace());
                device.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            device.shutdownNow();
        }
        heartbeats.shutdownNow();
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        return Integer.MAX_VALUE - 50;
    }
}
