package org.ccalab.worker.consume;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.ccalab.common.run.RunControl;
import org.ccalab.common.run.Topics;
import org.ccalab.worker.execute.RunExecutor;
import org.ccalab.worker.execute.StopReason;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/** runs.control, in a consumer group of this worker's own: every worker hears every CANCEL and FENCE. */
@Component
class RunControlListener {
    private final RunExecutor executor;
    private final ControlBoard board;
    private final JsonMapper json;

    RunControlListener(RunExecutor executor, ControlBoard board, JsonMapper json) {
        this.executor = executor;
        this.board = board;
        this.json = json;
    }

    // Only what arrives from now on matters to a worker that just joined: older controls concern runs it never held.
    @KafkaListener(id = "run-control", topics = Topics.RUNS_CONTROL, groupId = "#{@workerIdentity.controlGroup()}",
            containerFactory = KafkaConfiguration.CONTROL_FACTORY, properties = "auto.offset.reset=latest")
    void onControl(ConsumerRecord<String, String> record) {
        RunControl control = json.readValue(record.value(), RunControl.class);
        if (control.runId() == null || control.action() == null) {
            throw new IllegalArgumentException("runs.control record without runId or action: " + record.value());
        }
        board.record(control);
        StopReason reason = control.action() == RunControl.Action.CANCEL ? StopReason.CANCEL : StopReason.FENCE;
        executor.stop(control.runId(), control.action() == RunControl.Action.CANCEL ? null : control.attempt(), reason);
    }
}
