package org.ccalab.scheduler.ingest;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.ccalab.common.event.WorkerStatus;
import org.ccalab.common.run.Topics;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.stereotype.Component;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.databind.json.JsonMapper;

/**
 * Keeps the worker table current from {@code workers.status}. last_seen_at is the scheduler's clock, so
 * worker liveness (dispatch capacity) never depends on the workers' clocks. A run id the database does
 * not know is stored as no run rather than refused: the status is still news about the worker.
 */
@Component
class WorkerStatusListener {
    private final JdbcClient jdbc;
    private final JsonMapper json;

    WorkerStatusListener(JdbcClient jdbc, JsonMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    @KafkaListener(id = "ingest-worker-status", topics = Topics.WORKERS, groupId = "ingest-workers")
    @Transactional
    void onStatus(ConsumerRecord<String, String> record) {
        if (record.value() == null) throw new UnprocessableRecordException("empty record on " + Topics.WORKERS);
        WorkerStatus s = json.readValue(record.value(), WorkerStatus.class);
        if (s.workerId() == null || s.workerId().isBlank()) throw new UnprocessableRecordException("workerId is required");
        jdbc.sql("""
                        insert into worker(id, backend, device, device_memory_bytes, engine_version, jvm, host,
                                           first_seen_at, last_seen_at, current_run_id, current_attempt)
                        values (:id, :backend, :device, :memory, :engine, :jvm, :host, now(), now(),
                                (select id from run where id = :run), :attempt)
                        on conflict (id) do update set backend = excluded.backend, device = excluded.device,
                            device_memory_bytes = excluded.device_memory_bytes, engine_version = excluded.engine_version,
                            jvm = excluded.jvm, host = excluded.host, last_seen_at = excluded.last_seen_at,
                            current_run_id = excluded.current_run_id, current_attempt = excluded.current_attempt""")
                .param("id", s.workerId()).param("backend", orUnknown(s.backend())).param("device", orUnknown(s.device()))
                .param("memory", Math.max(0, s.deviceMemoryBytes())).param("engine", orUnknown(s.engineVersion()))
                .param("jvm", orUnknown(s.jvm())).param("host", orUnknown(s.host()))
                .param("run", s.currentRunId(), java.sql.Types.OTHER)
                .param("attempt", s.currentRunId() == null ? null : s.currentAttempt(), java.sql.Types.INTEGER)
                .update();
        jdbc.sql("select pg_notify('queue_updates', '')").query().singleRow();
    }

    private static String orUnknown(String v) {
        return v == null || v.isBlank() ? "unknown" : v;
    }
}
