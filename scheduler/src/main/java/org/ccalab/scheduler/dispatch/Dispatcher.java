package org.ccalab.scheduler.dispatch;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.RunRequest;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.Topics;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.scheduler.run.ExperimentStatuses;
import org.ccalab.scheduler.run.RunNotifications;
import org.ccalab.scheduler.run.RunTransitions;
import org.ccalab.scheduler.system.SchedulerProperties;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * Sends queued runs to {@code runs.requested} in priority order, only as many as the live workers can
 * take (plus a small prefetch), so the order is decided here and not by whichever partition a worker
 * reads. One run per transaction: lock the head of the queue, send the request and wait for Kafka's
 * acknowledgement, mark it DISPATCHED, commit. A failed send rolls back and the run stays queued. If the
 * commit fails after the send, the run is sent again with the same (runId, attempt): harmless, because
 * the key routes it to the same partition and worker, which ignores an attempt it already holds, and
 * ingestion is idempotent.
 */
@Component
public class Dispatcher {
    private static final Logger log = LoggerFactory.getLogger(Dispatcher.class);
    /** Bounds one tick so the other loops and a shutdown are never starved. */
    private static final int MAX_PER_TICK = 64;

    private final DispatchQueue queue;
    private final KafkaTemplate<String, String> kafka;
    private final JsonMapper json;
    private final RunTransitions transitions;
    private final RunNotifications notifications;
    private final ExperimentStatuses experiments;
    private final TransactionTemplate tx;
    private final SchedulerProperties properties;

    Dispatcher(DispatchQueue queue, KafkaTemplate<String, String> kafka, JsonMapper json, RunTransitions transitions,
               RunNotifications notifications, ExperimentStatuses experiments, TransactionTemplate tx, SchedulerProperties properties) {
        this.queue = queue;
        this.kafka = kafka;
        this.json = json;
        this.transitions = transitions;
        this.notifications = notifications;
        this.experiments = experiments;
        this.tx = tx;
        this.properties = properties;
    }

    /** Dispatches until the queue is empty or capacity is used up; returns how many runs were sent. */
    public int tick() {
        int sent = 0;
        while (sent < MAX_PER_TICK && Boolean.TRUE.equals(tx.execute(s -> dispatchOne()))) sent++;
        return sent;
    }

    private boolean dispatchOne() {
        if (!queue.tryLock()) return false;
        if (queue.freeSlots(properties.workerFreshness(), properties.prefetch()) <= 0) return false;
        QueuedRun run = queue.head().orElse(null);
        if (run == null) return false;
        RunSpec spec;
        try {
            spec = json.readValue(run.spec(), RunSpec.class);
        } catch (JacksonException | InvalidConfigException e) {
            // Admitted runs were validated; a spec that no longer reads must not block the queue.
            transitions.lock(run.id()).ifPresent(r -> transitions.failed(r, FailureClass.INVALID_CONFIG,
                    "stored spec does not read: " + e.getMessage()));
            return true;
        }
        RunRequest request = new RunRequest(run.id(), run.attempt(), run.experimentId(), spec, run.lastCheckpointUri());
        send(request);
        queue.markDispatched(run.id());
        notifications.runUpdated(run.id());
        notifications.queueUpdated();
        experiments.refresh(run.experimentId());
        log.info("dispatched run {} attempt {}{}", run.id(), run.attempt(),
                run.lastCheckpointUri() == null ? "" : " resuming from " + run.lastCheckpointUri());
        return true;
    }

    private void send(RunRequest request) {
        try {
            kafka.send(Topics.RUNS_REQUESTED, request.runId().toString(), json.writeValueAsString(request))
                    .get(properties.sendTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted dispatching run " + request.runId(), e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("could not dispatch run " + request.runId(), e);
        }
    }
}
