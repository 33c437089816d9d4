package org.ccalab.scheduler.support;

import java.util.Map;
import java.util.UUID;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.variant.MhaConfig;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import tools.jackson.databind.json.JsonMapper;

/** Rows as the api writes them (experiment + runs, status QUEUED), and reads of what the scheduler made of them. */
@Component
public class TestRuns {
    private final JdbcClient jdbc;
    private final JsonMapper json;

    public TestRuns(JdbcClient jdbc, JsonMapper json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    public UUID experiment(int priority) {
        UUID id = UUID.randomUUID();
        jdbc.sql("insert into experiment(id, name, kind, priority, request) values (?, ?, 'BENCHMARK', ?, '{}')")
                .params(id, "exp-" + id.toString().substring(0, 8), priority).update();
        return id;
    }

    public String validSpec(long seed) {
        return json.writeValueAsString(new RunSpec(RunKind.BENCHMARK, new MhaConfig(64, 4), seed,
                new BenchmarkSpec(1, 16, null, null, null, null, null, null), null));
    }

    /** A run whose stored spec the api let through but that does not validate (3 heads do not divide 64). */
    public static String invalidSpec(long seed) {
        return """
                {"kind":"BENCHMARK","variant":{"family":"mha","dModel":64,"nHeads":3},"seed":%d,
                 "benchmark":{"batch":1,"seqLen":16}}""".formatted(seed);
    }

    public UUID run(UUID experiment, int ordinal, int priority, String spec, boolean admitted, int maxAttempts) {
        UUID id = UUID.randomUUID();
        long seed = json.readTree(spec).get("seed").asLong();
        jdbc.sql("""
                        insert into run(id, experiment_id, ordinal, kind, family, variant, spec, config_hash, seed, priority,
                                        max_attempts, admitted_at)
                        values (?, ?, ?, 'BENCHMARK', 'mha', '{"family":"mha"}', cast(? as jsonb), 'hash', ?, ?, ?,
                                case when ? then now() end)""")
                .params(id, experiment, ordinal, spec, seed, priority, maxAttempts, admitted).update();
        return id;
    }

    /** A run admitted and ready for the dispatcher. */
    public UUID queued(UUID experiment, int ordinal, int priority, int maxAttempts) {
        return run(experiment, ordinal, priority, validSpec(ordinal), true, maxAttempts);
    }

    /** One live worker, one slot of dispatch capacity. */
    public void worker(String id) {
        jdbc.sql("""
                        insert into worker(id, backend, device, device_memory_bytes, engine_version, jvm, host, first_seen_at, last_seen_at)
                        values (?, 'cpu', 'test', 0, 'test', 'test', 'test', now(), now())""")
                .param(id).update();
    }

    public String status(UUID run) {
        return jdbc.sql("select status from run where id = ?").param(run).query(String.class).single();
    }

    public Map<String, Object> row(UUID run) {
        return jdbc.sql("select * from run where id = ?").param(run).query().singleRow();
    }

    public String experimentStatus(UUID experiment) {
        return jdbc.sql("select status from experiment where id = ?").param(experiment).query(String.class).single();
    }

    public JdbcClient jdbc() {
        return jdbc;
    }

    public long count(String sql, Object... params) {
        return jdbc.sql(sql).params(params).query(Long.class).single();
    }

    /** Takes every unfinished run of earlier tests out of the queue, so each test sees only its own capacity use. */
    public void finishAll() {
        jdbc.sql("""
                update run set status = 'CANCELLED', finished_at = now()
                where status not in ('SUCCEEDED', 'FAILED', 'CANCELLED')""").update();
    }
}
