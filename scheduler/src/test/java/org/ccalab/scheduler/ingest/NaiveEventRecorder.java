package org.ccalab.scheduler.ingest;

import java.util.UUID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.ccalab.common.event.RunEvent;
import org.ccalab.common.run.Topics;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.kafka.annotation.KafkaListener;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

/**
 * The negative control of the idempotency test: a consumer of the same topic (its own group) that
 * inserts every delivery into a table without a key. Counting its rows the way the test counts
 * run_event shows that the count would catch a duplicate. Imported by that test only; a record that is
 * not an event is no concern of the control and is ignored.
 */
class NaiveEventRecorder {
    private final JdbcClient jdbc;
    private final JsonMapper json;

    NaiveEventRecorder(JdbcClient jdbc, JsonMapper json) {
        this.jdbc = jdbc;
        this.json = json;
        jdbc.sql("create table if not exists naive_run_event (event_id uuid, run_id uuid, seq bigint)").update();
    }

    @KafkaListener(id = "naive-recorder", topics = Topics.RUNS_EVENTS, groupId = "naive-recorder")
    void onEvent(ConsumerRecord<String, String> record) {
        RunEvent e;
        try {
            e = json.readValue(record.value(), RunEvent.class);
        } catch (JacksonException notAnEvent) {
            return;
        }
        jdbc.sql("insert into naive_run_event(event_id, run_id, seq) values (?, ?, ?)")
                .params(e.eventId(), e.runId(), e.seq()).update();
    }

    long deliveries(UUID eventId) {
        return jdbc.sql("select count(*) from naive_run_event where event_id = ?").param(eventId).query(Long.class).single();
    }
}
