package org.ccalab.scheduler.ingest;

import java.util.List;
import java.util.UUID;
import org.ccalab.common.event.BenchmarkCell;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.event.EnvironmentFingerprint;
import org.ccalab.common.event.MetricPoint;
import org.ccalab.scheduler.run.RunNotifications;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * Writes an event's results. Each write is keyed so that replaying it changes nothing: metric points
 * on (run, name, step), cells on their identity, environments on (run, attempt), checkpoints on
 * (run, step).
 */
@Component
class ResultStore {
    private final JdbcClient jdbc;
    private final JdbcTemplate batch;
    private final RunNotifications notifications;

    ResultStore(JdbcClient jdbc, JdbcTemplate batch, RunNotifications notifications) {
        this.jdbc = jdbc;
        this.batch = batch;
        this.notifications = notifications;
    }

    void environment(UUID run, int attempt, EnvironmentFingerprint env) {
        jdbc.sql("""
                        insert into run_environment(run_id, attempt, git_commit, git_dirty, engine_version, kernel_build_hash,
                                                    backend, gpu_model, driver_version, cuda_version, jvm, host,
                                                    deterministic_backward)
                        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing""")
                .params(run, attempt, known(env.gitCommit()), env.gitDirty(), known(env.engineVersion()),
                        known(env.kernelBuildHash()), known(env.backend()), known(env.gpuModel()),
                        known(env.driverVersion()), known(env.cudaVersion()), known(env.jvm()), known(env.host()),
                        env.deterministicBackward())
                .update();
    }

    /**
     * A resumed attempt repeats the steps after its checkpoint: the first point of a step wins, so the
     * series keeps one point per step.
     */
    void metrics(UUID run, int attempt, List<MetricPoint> points) {
        batch.batchUpdate("""
                        insert into metric_point(run_id, name, step, value, tokens, elapsed_s, attempt)
                        values (?, ?, ?, ?, ?, ?, ?) on conflict (run_id, name, step) do nothing""",
                points, 500, (ps, p) -> {
                    ps.setObject(1, run);
                    ps.setString(2, p.name());
                    ps.setLong(3, p.step());
                    ps.setDouble(4, p.value());
                    ps.setLong(5, p.tokens());
                    ps.setDouble(6, p.elapsedSeconds());
                    ps.setInt(7, attempt);
                });
        notifications.runUpdated(run);
    }

    /** A cell measured again (a retried benchmark) replaces the earlier measurement of the same cell. */
    void cells(UUID run, int attempt, List<BenchmarkCell> cells) {
        batch.batchUpdate("""
                        insert into benchmark_cell(run_id, attempt, phase, scope, causal, batch, seq_len, dtype, backend,
                                                   p10_ms, p50_ms, p90_ms, tflops, bytes_per_s, peak_memory_bytes,
                                                   kv_bytes_per_token, max_abs_error, max_rel_error)
                        values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        on conflict (run_id, phase, scope, causal, batch, seq_len, dtype) do update set
                            attempt = excluded.attempt, backend = excluded.backend, p10_ms = excluded.p10_ms,
                            p50_ms = excluded.p50_ms, p90_ms = excluded.p90_ms, tflops = excluded.tflops,
                            bytes_per_s = excluded.bytes_per_s, peak_memory_bytes = excluded.peak_memory_bytes,
                            kv_bytes_per_token = excluded.kv_bytes_per_token, max_abs_error = excluded.max_abs_error,
                            max_rel_error = excluded.max_rel_error, created_at = now()""",
                cells, 500, (ps, c) -> {
                    ps.setObject(1, run);
                    ps.setInt(2, attempt);
                    ps.setString(3, c.phase().name());
                    ps.setString(4, c.scope().name());
                    ps.setBoolean(5, c.causal());
                    ps.setInt(6, c.batch());
                    ps.setInt(7, c.seqLen());
                    ps.setString(8, c.dtype());
                    ps.setString(9, c.backend());
                    ps.setDouble(10, c.p10Ms());
                    ps.setDouble(11, c.p50Ms());
                    ps.setDouble(12, c.p90Ms());
                    ps.setDouble(13, c.tflops());
                    ps.setDouble(14, c.bytesPerSecond());
                    ps.setLong(15, c.peakMemoryBytes());
                    ps.setLong(16, c.kvBytesPerToken());
                    ps.setDouble(17, c.maxAbsError());
                    ps.setDouble(18, c.maxRelError());
                });
        notifications.runUpdated(run);
    }

    /** The newest checkpoint by step is the one a retry resumes from. */
    void checkpoint(UUID run, int attempt, CheckpointRef ref) {
        jdbc.sql("""
                        insert into checkpoint(run_id, step, uri, sha256, bytes, attempt) values (?, ?, ?, ?, ?, ?)
                        on conflict (run_id, step) do update set uri = excluded.uri, sha256 = excluded.sha256,
                            bytes = excluded.bytes, attempt = excluded.attempt, created_at = now()""")
                .params(run, ref.step(), ref.uri(), ref.sha256(), ref.bytes(), attempt).update();
        jdbc.sql("""
                        update run set last_checkpoint_uri = (select uri from checkpoint where run_id = :run
                                                              order by step desc limit 1), updated_at = now()
                        where id = :run""")
                .param("run", run).update();
        notifications.runUpdated(run);
    }

    private static String known(String value) {
        return value == null || value.isBlank() ? "unknown" : value;
    }
}
