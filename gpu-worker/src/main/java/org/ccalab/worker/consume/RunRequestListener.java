package org.ccalab.worker.consume;

import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.ccalab.common.event.EventType;
import org.ccalab.common.event.Failure;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.event.RunEvent;
import org.ccalab.common.run.RunControl;
import org.ccalab.common.run.RunRequest;
import org.ccalab.common.run.Topics;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.worker.execute.RunExecutor;
import org.ccalab.worker.publish.EventPublisher;
import org.ccalab.worker.system.WorkerIdentity;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.support.Acknowledgment;
import org.springframework.stereotype.Component;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * runs.requested in group {@code gpu-workers}: one record per poll, committed by hand once the run is taken
 * (STARTED sent). While the engine runs, this worker is out of the group ({@link RequestIntake}): no second run
 * is fetched, no poll deadline (max.poll.interval) can lapse, and idle workers take the waiting requests. A
 * worker killed before STARTED leaves the offset uncommitted and the request is redelivered; killed after, the
 * run's lease lapses and the scheduler's watchdog retries it.
 */
@Component
class RunRequestListener {
    static final String ID = "run-requests";
    private static final Logger log = LoggerFactory.getLogger(RunRequestListener.class);

    private final RunExecutor executor;
    private final ControlBoard board;
    private final EventPublisher publisher;
    private final WorkerIdentity identity;
    private final RequestIntake intake;
    private final JsonMapper json;

    RunRequestListener(RunExecutor executor, ControlBoard board, EventPublisher publisher, WorkerIdentity identity,
                       RequestIntake intake, JsonMapper json) {
        this.executor = executor;
        this.board = board;
        this.publisher = publisher;
        this.identity = identity;
        this.intake = intake;
        this.json = json;
    }

    @KafkaListener(id = ID, topics = Topics.RUNS_REQUESTED, groupId = "gpu-workers")
    void onRequest(ConsumerRecord<String, String> record, Acknowledgment ack) {
        JsonNode tree = json.readTree(record.value()); // not JSON: thrown, retried, then dead-lettered
        UUID runId = UUID.fromString(tree.required("runId").asString());
        int attempt = tree.required("attempt").asInt();
        RunRequest request;
        try {
            request = json.treeToValue(tree, RunRequest.class);
        } catch (JacksonException e) {
            if (!(rootCause(e) instanceof InvalidConfigException invalid)) throw e;
            // A well-addressed request whose spec cannot run: the run fails for good, the record is consumed.
            log.warn("run {} attempt {}: invalid spec: {}", runId, attempt, invalid.getMessage());
            publisher.event(RunEvent.of(runId, attempt, 1, EventType.FAILED, identity.id())
                    .withFailure(new Failure(FailureClass.INVALID_CONFIG, invalid.getMessage()))
                    .withMessage(invalid.getMessage()));
            ack.acknowledge();
            return;
        }
        var forbidding = board.forbidding(runId, attempt);
        if (forbidding.isPresent()) {
            skip(request, forbidding.get());
            ack.acknowledge();
            return;
        }
        // Left before the run can end: a rejoin that came first would be undone and the worker would idle forever.
        intake.leave();
        try {
            executor.take(request, () -> {
                if (executor.isRunning()) intake.rejoin(); // not while the worker shuts down
            });
        } catch (RuntimeException e) {
            Thread.ofVirtual().start(() -> { // after this thread has let the container stop
                if (executor.isRunning()) intake.rejoin();
            });
            throw e;
        }
        ack.acknowledge(); // MANUAL_IMMEDIATE: committed now, before the container closes its consumer
    }

    private void skip(RunRequest request, RunControl control) {
        log.info("run {} attempt {} not started: {} received before its request", request.runId(), request.attempt(),
                control.action());
        if (control.action() == RunControl.Action.CANCEL) {
            publisher.event(RunEvent.of(request.runId(), request.attempt(), 1, EventType.CANCELLED, identity.id())
                    .withMessage("cancelled before it started"));
        }
    }

    private static Throwable rootCause(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t;
    }
}
