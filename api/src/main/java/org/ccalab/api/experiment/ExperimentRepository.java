package org.ccalab.api.experiment;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.ccalab.api.system.PageQuery;
import org.ccalab.api.system.Sql;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** SQL of experiments and the run rows they create. */
@Repository
class ExperimentRepository {
    static final Map<String, String> SORTABLE = Map.of(
            "createdAt", "e.created_at", "updatedAt", "e.updated_at", "name", "lower(e.name)",
            "status", "e.status", "priority", "e.priority", "kind", "e.kind", "runCount", "c.total");

    private static final String COUNTS = """
            LEFT JOIN LATERAL (SELECT count(*) AS total,
                   count(*) FILTER (WHERE r.status = 'QUEUED') AS queued,
                   count(*) FILTER (WHERE r.status = 'DISPATCHED') AS dispatched,
                   count(*) FILTER (WHERE r.status = 'RUNNING') AS running,
                   count(*) FILTER (WHERE r.status = 'RETRYING') AS retrying,
                   count(*) FILTER (WHERE r.status = 'SUCCEEDED') AS succeeded,
                   count(*) FILTER (WHERE r.status = 'FAILED') AS failed,
                   count(*) FILTER (WHERE r.status = 'CANCELLED') AS cancelled
              FROM run r WHERE r.experiment_id = e.id) c ON true
            """;

    private final JdbcClient jdbc;
    private final JdbcTemplate template;

    ExperimentRepository(JdbcClient jdbc, JdbcTemplate template) {
        this.jdbc = jdbc;
        this.template = template;
    }

    record NewRun(UUID id, int ordinal, String kind, String family, String variantJson, String specJson,
                  String configHash, long seed, int priority, int maxAttempts) {}

    void insertExperiment(UUID id, String name, String description, String kind, int priority, String requestJson) {
        jdbc.sql("""
                INSERT INTO experiment (id, name, description, kind, status, priority, request)
                VALUES (:id, :name, :description, :kind, 'QUEUED', :priority, CAST(:request AS jsonb))
                """)
                .param("id", id).param("name", name).param("description", description).param("kind", kind)
                .param("priority", priority).param("request", requestJson).update();
    }

    void insertRuns(UUID experimentId, List<NewRun> runs) {
        // admitted_at stays NULL: the scheduler's sweep job admits the runs (contracts.md, V010).
        template.batchUpdate("""
                INSERT INTO run (id, experiment_id, ordinal, kind, family, variant, spec, config_hash, seed,
                                 status, priority, attempt, max_attempts)
                VALUES (?, ?, ?, ?, ?, CAST(? AS jsonb), CAST(? AS jsonb), ?, ?, 'QUEUED', ?, 1, ?)
                """, runs, 500, (ps, r) -> {
            ps.setObject(1, r.id());
            ps.setObject(2, experimentId);
            ps.setInt(3, r.ordinal());
            ps.setString(4, r.kind());
            ps.setString(5, r.family());
            ps.setString(6, r.variantJson());
            ps.setString(7, r.specJson());
            ps.setString(8, r.configHash());
            ps.setLong(9, r.seed());
            ps.setInt(10, r.priority());
            ps.setInt(11, r.maxAttempts());
        });
    }

    Optional<ExperimentRow> find(UUID id) {
        return jdbc.sql("SELECT e.*, c.* FROM experiment e " + COUNTS + " WHERE e.id = :id")
                .param("id", id).query(ExperimentRepository::row).optional();
    }

    /** Locks the experiment row so a cancel and a re-run of the same experiment serialize. */
    Optional<ExperimentRow> findForUpdate(UUID id) {
        boolean exists = jdbc.sql("SELECT 1 FROM experiment WHERE id = :id FOR UPDATE").param("id", id)
                .query(Integer.class).optional().isPresent();
        return exists ? find(id) : Optional.empty();
    }

    List<ExperimentRow> list(Sql filter, PageQuery page) {
        return jdbc.sql("SELECT e.*, c.* FROM experiment e " + COUNTS + filter.where() + " ORDER BY " + page.orderBy()
                        + " LIMIT :limit OFFSET :offset")
                .params(filter.params()).param("limit", page.size()).param("offset", page.offset())
                .query(ExperimentRepository::row).list();
    }

    long count(Sql filter) {
        return jdbc.sql("SELECT count(*) FROM experiment e" + filter.where()).params(filter.params())
                .query(Long.class).single();
    }

    /** Records the cancellation on the experiment and on each of its runs still able to run; returns those runs. */
    List<UUID> requestCancel(UUID id) {
        jdbc.sql("UPDATE experiment SET cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now() WHERE id = :id")
                .param("id", id).update();
        return jdbc.sql("""
                UPDATE run SET cancel_requested_at = now(), updated_at = now()
                 WHERE experiment_id = :id AND cancel_requested_at IS NULL
                   AND status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
                RETURNING id
                """).param("id", id).query(UUID.class).list();
    }

    /**
     * Puts the FAILED runs back in the queue with a fresh attempt budget. The attempt number moves on
     * rather than restarting at 1: events are keyed (run, attempt, seq), so a restarted attempt 1 would
     * collide with the failed attempt 1's events and be dropped as duplicates, and fencing needs attempts
     * to grow. admitted_at is kept: the spec was validated already.
     */
    List<UUID> requeueFailed(UUID id, int budget) {
        return jdbc.sql("""
                UPDATE run SET status = 'QUEUED', attempt = attempt + 1,
                       max_attempts = LEAST(100, GREATEST(max_attempts, attempt + :budget)),
                       failure_class = NULL, failure_message = NULL, finished_at = NULL, dispatched_at = NULL,
                       started_at = NULL, last_heartbeat_at = NULL, worker_id = NULL,
                       cancel_requested_at = NULL, cancel_sent_at = NULL, updated_at = now()
                 WHERE experiment_id = :id AND status = 'FAILED' AND attempt < 100
                RETURNING id
                """).param("id", id).param("budget", budget).query(UUID.class).list();
    }

    void clearCancel(UUID id) {
        jdbc.sql("UPDATE experiment SET cancel_requested_at = NULL, updated_at = now() WHERE id = :id").param("id", id).update();
    }

    private static ExperimentRow row(ResultSet rs, int n) throws SQLException {
        RunCounts counts = new RunCounts(rs.getLong("total"), rs.getLong("queued"), rs.getLong("dispatched"),
                rs.getLong("running"), rs.getLong("retrying"), rs.getLong("succeeded"), rs.getLong("failed"),
                rs.getLong("cancelled"));
        return new ExperimentRow(rs.getObject("id", UUID.class), rs.getString("name"), rs.getString("description"),
                rs.getString("kind"), rs.getString("status"), rs.getInt("priority"), rs.getString("request"),
                Sql.instant(rs, "created_at"), Sql.instant(rs, "updated_at"), Sql.instant(rs, "cancel_requested_at"), counts);
    }
}
