package org.ccalab.scheduler.ingest;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.ccalab.common.event.RunEvent;
import org.ccalab.common.run.Topics;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/**
 * Consumes {@code runs.events} (group {@code ingest}). Parsing happens here, so that a record that is not
 * a RunEvent fails before any transaction and the error handler dead-letters it.
 */
@Component
class RunEventListener {
    private final EventIngester ingester;
    private final JsonMapper json;

    RunEventListener(EventIngester ingester, JsonMapper json) {
        this.ingester = ingester;
        this.json = json;
    }

    @KafkaListener(id = "ingest-run-events", topics = Topics.RUNS_EVENTS, groupId = "ingest",
            concurrency = "${ccalab.scheduler.listener.concurrency:2}")
    void onEvent(ConsumerRecord<String, String> record) {
        if (record.value() == null) throw new UnprocessableRecordException("empty record on " + Topics.RUNS_EVENTS);
        RunEvent event = json.readValue(record.value(), RunEvent.class);
        requireFields(event);
        ingester.ingest(event);
    }

    private static void requireFields(RunEvent e) {
        if (e.eventId() == null) throw new UnprocessableRecordException("eventId is required");
        if (e.runId() == null) throw new UnprocessableRecordException("runId is required");
        if (e.type() == null) throw new UnprocessableRecordException("type is required");
        if (e.time() == null) throw new UnprocessableRecordException("time is required");
        if (e.attempt() < 1) throw new UnprocessableRecordException("attempt must be >= 1, got " + e.attempt());
        if (e.seq() < 0) throw new UnprocessableRecordException("seq must be >= 0, got " + e.seq());
    }
}
