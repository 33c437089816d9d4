package org.ccalab.api.queue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.ccalab.api.system.PageQuery;
import org.ccalab.api.system.Sql;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** Reads of the scheduler's live state: the queue, the workers, the dead letters. */
@Repository
public class QueueRepository {
    private final JdbcClient jdbc;

    QueueRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /**
     * A run waiting or running. {@code waitSeconds}: from creation to dispatch (to now while still waiting);
     * {@code runningSeconds}: since it started, while it runs.
     */
    public record QueueItem(UUID runId, UUID experimentId, String experimentName, int ordinal, String kind, String family,
                            String status, int priority, int attempt, int maxAttempts, String workerId, boolean admitted,
                            Instant createdAt, Instant dispatchedAt, Instant startedAt, Instant lastHeartbeatAt,
                            Instant cancelRequestedAt, double waitSeconds, Double runningSeconds) {}

    public record Queue(long queued, long retrying, long dispatched, long running, List<QueueItem> items) {}

    public Queue queue(int maxItems) {
        Map<String, Long> counts = new java.util.HashMap<>();
        jdbc.sql("""
                SELECT status, count(*) AS n FROM run WHERE status IN ('QUEUED', 'RETRYING', 'DISPATCHED', 'RUNNING')
                 GROUP BY status
                """).query(rs -> {
            counts.put(rs.getString("status"), rs.getLong("n"));
        });
        // Running first, then waiting runs in the dispatcher's order (priority, age, sweep position).
        List<QueueItem> items = jdbc.sql("""
                SELECT r.*, e.name AS experiment_name,
                       extract(epoch FROM coalesce(r.dispatched_at, now()) - r.created_at) AS wait_s,
                       CASE WHEN r.status = 'RUNNING' THEN extract(epoch FROM now() - r.started_at) END AS running_s
                  FROM run r JOIN experiment e ON e.id = r.experiment_id
                 WHERE r.status IN ('QUEUED', 'RETRYING', 'DISPATCHED', 'RUNNING')
                 ORDER BY CASE r.status WHEN 'RUNNING' THEN 0 WHEN 'DISPATCHED' THEN 1 ELSE 2 END,
                          r.priority DESC, r.created_at, r.ordinal
                 LIMIT :limit
                """).param("limit", maxItems).query((rs, n) -> new QueueItem(rs.getObject("id", UUID.class),
                rs.getObject("experiment_id", UUID.class), rs.getString("experiment_name"), rs.getInt("ordinal"),
                rs.getString("kind"), rs.getString("family"), rs.getString("status"), rs.getInt("priority"),
                rs.getInt("attempt"), rs.getInt("max_attempts"), rs.getString("worker_id"),
                rs.getObject("admitted_at") != null, Sql.instant(rs, "created_at"), Sql.instant(rs, "dispatched_at"),
                Sql.instant(rs, "started_at"), Sql.instant(rs, "last_heartbeat_at"), Sql.instant(rs, "cancel_requested_at"),
                Math.max(0, rs.getDouble("wait_s")), Sql.nullableDouble(rs, "running_s"))).list();
        return new Queue(counts.getOrDefault("QUEUED", 0L), counts.getOrDefault("RETRYING", 0L),
                counts.getOrDefault("DISPATCHED", 0L), counts.getOrDefault("RUNNING", 0L), items);
    }

    public record Worker(String id, String backend, String device, long deviceMemoryBytes, String engineVersion, String jvm,
                         String host, Instant firstSeenAt, Instant lastSeenAt, UUID currentRunId, Integer currentAttempt,
                         boolean alive) {}

    public List<Worker> workers(Duration staleAfter) {
        return jdbc.sql("""
                SELECT w.*, w.last_seen_at > now() - make_interval(secs => :stale) AS alive
                  FROM worker w ORDER BY w.last_seen_at DESC, w.id
                """).param("stale", staleAfter.toMillis() / 1000.0).query((rs, n) -> new Worker(rs.getString("id"),
                rs.getString("backend"), rs.getString("device"), rs.getLong("device_memory_bytes"),
                rs.getString("engine_version"), rs.getString("jvm"), rs.getString("host"), Sql.instant(rs, "first_seen_at"),
                Sql.instant(rs, "last_seen_at"), rs.getObject("current_run_id", UUID.class),
                Sql.nullableInt(rs, "current_attempt"), rs.getBoolean("alive"))).list();
    }

    public record DeadLetter(long id, String topic, int partition, long offset, String dltTopic, String recordKey, String recordValue,
                             String error, String errorClass, Instant receivedAt) {}

    static final Map<String, String> DEAD_LETTER_SORTABLE = Map.of("receivedAt", "received_at", "topic", "topic");

    public List<DeadLetter> deadLetters(String topic, PageQuery page) {
        Sql filter = new Sql().and("topic = :topic", "topic", topic);
        return jdbc.sql("SELECT * FROM dead_letter" + filter.where() + " ORDER BY " + page.orderBy()
                        + " LIMIT :limit OFFSET :offset")
                .params(filter.params()).param("limit", page.size()).param("offset", page.offset())
                .query((rs, n) -> new DeadLetter(rs.getLong("id"), rs.getString("topic"), rs.getInt("kafka_partition"),
                        rs.getLong("kafka_offset"), rs.getString("dlt_topic"), rs.getString("record_key"),
                        rs.getString("record_value"), rs.getString("error"), rs.getString("error_class"),
                        Sql.instant(rs, "received_at"))).list();
    }

    public long deadLetterCount(String topic) {
        Sql filter = new Sql().and("topic = :topic", "topic", topic);
        return jdbc.sql("SELECT count(*) FROM dead_letter" + filter.where()).params(filter.params()).query(Long.class).single();
    }
}
