package org.ccalab.api.run;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.ccalab.api.system.PageQuery;
import org.ccalab.api.system.Sql;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;
import tools.jackson.databind.json.JsonMapper;

/** SQL of runs and what they record: metric series, benchmark cells, events, environments, checkpoints. */
@Repository
public class RunRepository {
    static final Map<String, String> SORTABLE = Map.ofEntries(
            Map.entry("createdAt", "r.created_at"), Map.entry("updatedAt", "r.updated_at"),
            Map.entry("status", "r.status"), Map.entry("family", "r.family"), Map.entry("kind", "r.kind"),
            Map.entry("ordinal", "r.ordinal"), Map.entry("priority", "r.priority"), Map.entry("attempt", "r.attempt"),
            Map.entry("startedAt", "r.started_at"), Map.entry("finishedAt", "r.finished_at"),
            Map.entry("failureClass", "r.failure_class"), Map.entry("experiment", "lower(e.name)"));

    /*
     * The grid point is read back from the run's spec rather than stored: the spec already holds every value
     * the grid set (seed in its own column, the others in the base spec named after the run's kind), and the
     * submission's grid says which of its fields were swept.
     */
    private static final String SELECT = """
            SELECT r.*, e.name AS experiment_name,
                   (SELECT jsonb_object_agg(k, CASE WHEN k = 'seed' THEN to_jsonb(r.seed) ELSE r.spec -> lower(r.kind) -> k END)
                      FROM jsonb_object_keys(CASE WHEN jsonb_typeof(e.request -> 'grid') = 'object'
                                                  THEN e.request -> 'grid' END) AS k)::text AS grid
              FROM run r JOIN experiment e ON e.id = r.experiment_id
            """;

    private final JdbcClient jdbc;
    private final JsonMapper json;

    RunRepository(JdbcClient jdbc, JsonMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    public Optional<RunRow> find(UUID id) {
        return jdbc.sql(SELECT + " WHERE r.id = :id").param("id", id).query(RunRepository::row).optional();
    }

    Optional<String> lockStatus(UUID id) {
        return jdbc.sql("SELECT status FROM run WHERE id = :id FOR UPDATE").param("id", id).query(String.class).optional();
    }

    /** Sets cancel_requested_at once (a repeated cancel keeps the first time); returns it. */
    java.time.Instant requestCancel(UUID id) {
        return jdbc.sql("""
                UPDATE run SET cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
                 WHERE id = :id RETURNING cancel_requested_at
                """).param("id", id).query((rs, n) -> Sql.instant(rs, "cancel_requested_at")).single();
    }

    public List<RunRow> list(Sql filter, PageQuery page) {
        return jdbc.sql(SELECT + filter.where() + " ORDER BY " + page.orderBy() + " LIMIT :limit OFFSET :offset")
                .params(filter.params()).param("limit", page.size()).param("offset", page.offset())
                .query(RunRepository::row).list();
    }

    public long count(Sql filter) {
        return jdbc.sql("SELECT count(*) FROM run r JOIN experiment e ON e.id = r.experiment_id" + filter.where())
                .params(filter.params()).query(Long.class).single();
    }

    /** Runs by id or by experiment, in (experiment, ordinal) order. */
    public List<RunRow> findAll(List<UUID> runIds, List<UUID> experimentIds) {
        Sql filter = new Sql().and("r.id IN (:ids)", "ids", runIds.isEmpty() ? null : runIds)
                .and("r.experiment_id IN (:eids)", "eids", experimentIds.isEmpty() ? null : experimentIds);
        if (filter.where().isEmpty()) return List.of();
        return jdbc.sql(SELECT + filter.where() + " ORDER BY e.created_at, r.experiment_id, r.ordinal")
                .params(filter.params()).query(RunRepository::row).list();
    }

    List<RunView.Environment> environments(UUID id) {
        return jdbc.sql("SELECT * FROM run_environment WHERE run_id = :id ORDER BY attempt").param("id", id)
                .query((rs, n) -> new RunView.Environment(rs.getInt("attempt"), rs.getString("git_commit"),
                        rs.getBoolean("git_dirty"), rs.getString("engine_version"), rs.getString("kernel_build_hash"),
                        rs.getString("backend"), rs.getString("gpu_model"), rs.getString("driver_version"),
                        rs.getString("cuda_version"), rs.getString("jvm"), rs.getString("host"),
                        rs.getObject("deterministic_backward", Boolean.class), Sql.instant(rs, "recorded_at"))).list();
    }

    List<RunView.Checkpoint> checkpoints(UUID id) {
        return jdbc.sql("SELECT * FROM checkpoint WHERE run_id = :id ORDER BY step").param("id", id)
                .query((rs, n) -> new RunView.Checkpoint(rs.getLong("step"), rs.getString("uri"), rs.getString("sha256"),
                        rs.getLong("bytes"), rs.getInt("attempt"), Sql.instant(rs, "created_at"))).list();
    }

    public List<RunView.MetricSeriesInfo> metricSeries(UUID id) {
        return jdbc.sql("""
                SELECT name, count(*) AS points, min(step) AS first_step, max(step) AS last_step,
                       (array_agg(value ORDER BY step DESC))[1] AS last_value
                  FROM metric_point WHERE run_id = :id GROUP BY name ORDER BY name
                """).param("id", id)
                .query((rs, n) -> new RunView.MetricSeriesInfo(rs.getString("name"), rs.getLong("points"),
                        rs.getLong("first_step"), rs.getLong("last_step"), rs.getDouble("last_value"))).list();
    }

    /** The names of the series the run has recorded, sorted (no aggregation: cheap on long series). */
    public List<String> metricNames(UUID id) {
        return jdbc.sql("SELECT DISTINCT name FROM metric_point WHERE run_id = :id ORDER BY name")
                .param("id", id).query(String.class).list();
    }

    /** A series in step order within [fromStep, toStep]. */
    public List<MetricPointView> points(UUID id, String name, long fromStep, long toStep) {
        List<MetricPointView> out = new ArrayList<>();
        jdbc.sql("""
                SELECT step, value, tokens, elapsed_s FROM metric_point
                 WHERE run_id = :id AND name = :name AND step BETWEEN :from AND :to ORDER BY step
                """).param("id", id).param("name", name).param("from", fromStep).param("to", toStep)
                .query(rs -> {
                    out.add(new MetricPointView(rs.getLong("step"), rs.getDouble("value"),
                            Sql.nullableLong(rs, "tokens"), Sql.nullableDouble(rs, "elapsed_s")));
                });
        return out;
    }

    /** How many points a series has in [fromStep, toStep], and the first and last step there (both 0 when none). */
    public record SeriesRange(long count, long firstStep, long lastStep) {}

    public SeriesRange range(UUID id, String name, long fromStep, long toStep) {
        return jdbc.sql("""
                SELECT count(*) AS n, coalesce(min(step), 0) AS lo, coalesce(max(step), 0) AS hi FROM metric_point
                 WHERE run_id = :id AND name = :name AND step BETWEEN :from AND :to
                """).param("id", id).param("name", name).param("from", fromStep).param("to", toStep)
                .query((rs, n) -> new SeriesRange(rs.getLong("n"), rs.getLong("lo"), rs.getLong("hi"))).single();
    }

    /**
     * A long series thinned inside PostgreSQL before it crosses the wire: the steps of {@code range} are cut
     * into {@code buckets} equal spans, and of each span the first, last, lowest and highest point survive
     * (M4, Jugel et al., VLDB 2014), so every extreme a chart could show is kept; NaN sorts above every
     * number in PostgreSQL, so a diverged point counts as a highest. At most 4 x buckets points, in step
     * order. The bounds are parameters, not a subquery: with stale statistics after a bulk insert the
     * planner would otherwise re-run the bounds aggregate for every row.
     */
    public List<MetricPointView> extremes(UUID id, String name, SeriesRange range, int buckets) {
        List<MetricPointView> out = new ArrayList<>();
        jdbc.sql("""
                WITH picks AS (
                    SELECT unnest(ARRAY[min(step), max(step), (array_agg(step ORDER BY value))[1],
                                        (array_agg(step ORDER BY value DESC))[1]]) AS step
                      FROM metric_point
                     WHERE run_id = :id AND name = :name AND step BETWEEN :lo AND :hi
                     GROUP BY width_bucket(step::float8, CAST(:lo AS float8), CAST(:hi AS float8) + 1, :buckets))
                SELECT m.step, m.value, m.tokens, m.elapsed_s FROM metric_point m
                 WHERE m.run_id = :id AND m.name = :name AND m.step IN (SELECT step FROM picks) ORDER BY m.step
                """).param("id", id).param("name", name).param("lo", range.firstStep()).param("hi", range.lastStep())
                .param("buckets", buckets)
                .query(rs -> {
                    out.add(new MetricPointView(rs.getLong("step"), rs.getDouble("value"),
                            Sql.nullableLong(rs, "tokens"), Sql.nullableDouble(rs, "elapsed_s")));
                });
        return out;
    }

    /**
     * The series names of a run by a loose index scan of the primary key (run_id, name, step): a few index
     * probes per name, however many points the run has.
     */
    private static final String NAMES = """
            WITH RECURSIVE names AS (
                SELECT min(name) AS name FROM metric_point WHERE run_id = :id
                UNION ALL
                SELECT (SELECT min(m.name) FROM metric_point m WHERE m.run_id = :id AND m.name > names.name)
                  FROM names WHERE names.name IS NOT NULL)
            """;

    /**
     * Points of every series past the last step already sent for its name (a name not in the map: all its
     * points), oldest first, at most {@code limit}. Each series is read through the primary key from its
     * last step on, so a live stream of a long run costs what is new, not the whole history.
     */
    public List<Map.Entry<String, MetricPointView>> pointsAfter(UUID id, Map<String, Long> lastStepByName, int limit) {
        List<Map.Entry<String, MetricPointView>> out = new ArrayList<>();
        jdbc.sql(NAMES + """
                SELECT x.* FROM names CROSS JOIN LATERAL (
                    SELECT m.name, m.step, m.value, m.tokens, m.elapsed_s FROM metric_point m
                     WHERE m.run_id = :id AND m.name = names.name
                       AND m.step > coalesce((CAST(:last AS jsonb) ->> names.name)::bigint, -1)
                     ORDER BY m.step LIMIT :limit) x
                 WHERE names.name IS NOT NULL
                 ORDER BY x.step, x.name LIMIT :limit
                """).param("id", id).param("last", json.writeValueAsString(lastStepByName)).param("limit", limit)
                .query(rs -> {
                    out.add(Map.entry(rs.getString("name"), new MetricPointView(rs.getLong("step"), rs.getDouble("value"),
                            Sql.nullableLong(rs, "tokens"), Sql.nullableDouble(rs, "elapsed_s"))));
                });
        return out;
    }

    /** The last step of each series of a run. */
    public Map<String, Long> lastSteps(UUID id) {
        Map<String, Long> out = new java.util.HashMap<>();
        jdbc.sql(NAMES + """
                SELECT names.name, (SELECT max(m.step) FROM metric_point m WHERE m.run_id = :id AND m.name = names.name) AS s
                  FROM names WHERE names.name IS NOT NULL
                """).param("id", id)
                .query(rs -> {
                    out.put(rs.getString("name"), rs.getLong("s"));
                });
        return out;
    }

    public List<CellView> cells(UUID id, long afterId) {
        return jdbc.sql("""
                SELECT * FROM benchmark_cell WHERE run_id = :id AND id > :after
                 ORDER BY phase, scope, causal DESC, batch, seq_len, dtype
                """).param("id", id).param("after", afterId).query(RunRepository::cell).list();
    }

    /** Cells of many runs at once, for comparisons. */
    public Map<UUID, List<CellView>> cellsOf(List<UUID> runIds) {
        Map<UUID, List<CellView>> out = new java.util.LinkedHashMap<>();
        if (runIds.isEmpty()) return out;
        jdbc.sql("SELECT * FROM benchmark_cell WHERE run_id IN (:ids) ORDER BY run_id, phase, scope, causal DESC, batch, seq_len, dtype")
                .param("ids", runIds).query(rs -> {
                    out.computeIfAbsent(rs.getObject("run_id", UUID.class), k -> new ArrayList<>()).add(cell(rs, 0));
                });
        return out;
    }

    long cellCount(UUID id) {
        return jdbc.sql("SELECT count(*) FROM benchmark_cell WHERE run_id = :id").param("id", id).query(Long.class).single();
    }

    public long maxCellId(UUID id) {
        return jdbc.sql("SELECT coalesce(max(id), 0) FROM benchmark_cell WHERE run_id = :id").param("id", id)
                .query(Long.class).single();
    }

    List<EventView> events(UUID id, List<String> types, PageQuery page) {
        Sql filter = new Sql().and("run_id = :id", "id", id).and("type IN (:types)", "types", types);
        return jdbc.sql("SELECT * FROM run_event" + filter.where() + " ORDER BY attempt, seq LIMIT :limit OFFSET :offset")
                .params(filter.params()).param("limit", page.size()).param("offset", page.offset())
                .query((rs, n) -> new EventView(rs.getInt("attempt"), rs.getLong("seq"), rs.getObject("event_id", UUID.class),
                        rs.getString("type"), Sql.instant(rs, "time"), Sql.instant(rs, "received_at"),
                        json.readTree(rs.getString("payload")))).list();
    }

    long eventCount(UUID id, List<String> types) {
        Sql filter = new Sql().and("run_id = :id", "id", id).and("type IN (:types)", "types", types);
        return jdbc.sql("SELECT count(*) FROM run_event" + filter.where()).params(filter.params()).query(Long.class).single();
    }

    static CellView cell(ResultSet rs, int n) throws SQLException {
        return new CellView(rs.getLong("id"), rs.getInt("attempt"), rs.getString("phase"), rs.getString("scope"),
                rs.getBoolean("causal"), rs.getInt("batch"), rs.getInt("seq_len"), rs.getString("dtype"),
                rs.getString("backend"), rs.getDouble("p10_ms"), rs.getDouble("p50_ms"), rs.getDouble("p90_ms"),
                Sql.nullableDouble(rs, "tflops"), Sql.nullableDouble(rs, "bytes_per_s"),
                Sql.nullableLong(rs, "peak_memory_bytes"), Sql.nullableLong(rs, "kv_bytes_per_token"),
                Sql.nullableDouble(rs, "max_abs_error"), Sql.nullableDouble(rs, "max_rel_error"),
                Sql.instant(rs, "created_at"));
    }

    static RunRow row(ResultSet rs, int n) throws SQLException {
        return new RunRow(rs.getObject("id", UUID.class), rs.getObject("experiment_id", UUID.class),
                rs.getString("experiment_name"), rs.getInt("ordinal"), rs.getString("kind"), rs.getString("family"),
                rs.getString("status"), rs.getInt("priority"), rs.getInt("attempt"), rs.getInt("max_attempts"),
                rs.getString("worker_id"), rs.getString("failure_class"), rs.getString("failure_message"),
                rs.getLong("seed"), rs.getString("config_hash"), rs.getString("variant"), rs.getString("spec"),
                Sql.instant(rs, "created_at"), Sql.instant(rs, "admitted_at"), Sql.instant(rs, "dispatched_at"),
                Sql.instant(rs, "started_at"), Sql.instant(rs, "finished_at"), Sql.instant(rs, "last_heartbeat_at"),
                Sql.instant(rs, "cancel_requested_at"), rs.getString("last_checkpoint_uri"), Sql.instant(rs, "updated_at"),
                rs.getString("grid"));
    }
}
