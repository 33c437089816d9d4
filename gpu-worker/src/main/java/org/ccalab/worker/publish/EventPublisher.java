package org.ccalab.worker.publish;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.ccalab.common.event.RunEvent;
import org.ccalab.common.event.WorkerStatus;
import org.ccalab.common.run.Topics;
import org.ccalab.worker.system.WorkerProperties;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/**
 * Sends the worker's records as JSON text (no type headers: any consumer reads them with the common model).
 * Sends wait for the broker's acknowledgement so that a run never moves past an event the scheduler will not see.
 */
@Component
public class EventPublisher {
    private final KafkaTemplate<String, String> kafka;
    private final JsonMapper json;
    private final long timeoutMillis;

    public EventPublisher(KafkaTemplate<String, String> kafka, JsonMapper json, WorkerProperties properties) {
        this.kafka = kafka;
        this.json = json;
        this.timeoutMillis = properties.sendTimeout().toMillis();
    }

    public void event(RunEvent event) {
        send(Topics.RUNS_EVENTS, event.runId().toString(), json.writeValueAsString(event));
    }

    public void status(WorkerStatus status) {
        send(Topics.WORKERS, status.workerId(), json.writeValueAsString(status));
    }

    private void send(String topic, String key, String value) {
        try {
            kafka.send(topic, key, value).get(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PublishException(topic, e);
        } catch (ExecutionException e) {
            throw new PublishException(topic, e.getCause());
        } catch (TimeoutException e) {
            throw new PublishException(topic, e);
        }
    }

    /** The broker did not take a record: the worker can no longer report, so the attempt is abandoned. */
    public static final class PublishException extends RuntimeException {
        public PublishException(String topic, Throwable cause) {
            super("could not publish to " + topic + ": " + cause, cause);
        }
    }
}
