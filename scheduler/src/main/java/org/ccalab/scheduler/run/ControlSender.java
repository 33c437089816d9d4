package org.ccalab.scheduler.run;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.ccalab.common.run.RunControl;
import org.ccalab.common.run.Topics;
import org.ccalab.scheduler.system.SchedulerProperties;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/**
 * Sends CANCEL and FENCE on {@code runs.control}. The send is awaited so that the database change that
 * decided it commits only once Kafka has the message; a failed send rolls the decision back and the next
 * scan makes it again.
 */
@Component
public class ControlSender {
    private final KafkaTemplate<String, String> kafka;
    private final JsonMapper json;
    private final SchedulerProperties properties;

    public ControlSender(KafkaTemplate<String, String> kafka, JsonMapper json, SchedulerProperties properties) {
        this.kafka = kafka;
        this.json = json;
        this.properties = properties;
    }

    public void send(RunControl control) {
        String key = control.runId().toString();
        try {
            kafka.send(Topics.RUNS_CONTROL, key, json.writeValueAsString(control))
                    .get(properties.sendTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted sending " + control, e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("could not send " + control + " to " + Topics.RUNS_CONTROL, e);
        }
    }
}
