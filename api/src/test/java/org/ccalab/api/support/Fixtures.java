package org.ccalab.api.support;

import java.sql.Timestamp;
import java.time.Instant;
import java.util.UUID;
import org.springframework.jdbc.core.JdbcTemplate;

/** Writes what the scheduler's ingester would write, so api reads can be tested without Kafka. */
public final class Fixtures {
    private final JdbcTemplate jdbc;

    public Fixtures(JdbcTemplate jdbc) {
        this.jdbc = jdbc;
    }

    public void point(UUID run, String name, long step, double value) {
        jdbc.update("INSERT INTO metric_point (run_id, name, step, value, tokens, elapsed_s, attempt) VALUES (?, ?, ?, ?, ?, ?, 1)",
                run, name, step, value, step * 100, step * 0.5);
    }

    public void cell(UUID run, String phase, int seqLen, double p50, Double tflops) {
        jdbc.update("""
                INSERT INTO benchmark_cell (run_id, attempt, phase, scope, causal, batch, seq_len, dtype, backend,
                                            p10_ms, p50_ms, p90_ms, tflops, bytes_per_s, peak_memory_bytes,
                                            kv_bytes_per_token, max_abs_error, max_rel_error)
                VALUES (?, 1, ?, 'CORE', true, 1, ?, 'bf16', 'cpu', ?, ?, ?, ?, 1e9, 1000, 512, 1e-3, 'NaN')
                """, run, phase, seqLen, p50 * 0.9, p50, p50 * 1.1, tflops);
    }

    public void status(UUID run, String status) {
        boolean terminal = status.equals("SUCCEEDED") || status.equals("FAILED") || status.equals("CANCELLED");
        jdbc.update("""
                UPDATE run SET status = ?, finished_at = ?, failure_class = ?, failure_message = ?,
                       started_at = coalesce(started_at, now()), worker_id = 'w-1', updated_at = now() WHERE id = ?
                """, status, terminal ? Timestamp.from(Instant.now()) : null,
                status.equals("FAILED") ? "DIVERGED" : null, status.equals("FAILED") ? "loss became NaN at step 7" : null, run);
    }

    public void event(UUID run, int attempt, long seq, String type, String payload) {
        jdbc.update("INSERT INTO run_event (run_id, attempt, seq, event_id, type, time, payload) VALUES (?, ?, ?, ?, ?, now(), CAST(? AS jsonb))",
                run, attempt, seq, UUID.randomUUID(), type, payload);
    }

    public void environment(UUID run, int attempt) {
        environment(run, attempt, null);
    }

    /** {@code deterministicBackward} null: as a worker that did not record it. */
    public void environment(UUID run, int attempt, Boolean deterministicBackward) {
        jdbc.update("""
                INSERT INTO run_environment (run_id, attempt, git_commit, git_dirty, engine_version, kernel_build_hash,
                                             backend, gpu_model, driver_version, cuda_version, jvm, host,
                                             deterministic_backward)
                VALUES (?, ?, 'abc123', false, '0.1.0', 'k-hash', 'cpu', 'none', 'unknown', 'unknown', '25', 'host-a', ?)
                """, run, attempt, deterministicBackward);
    }

    public void checkpoint(UUID run, long step) {
        jdbc.update("INSERT INTO checkpoint (run_id, step, uri, sha256, bytes, attempt) VALUES (?, ?, ?, 'ff00', 4096, 1)",
                run, step, "file:/tmp/ckpt/" + run + "/" + step);
    }

    public void worker(String id, Instant lastSeen, UUID currentRun) {
        jdbc.update("""
                INSERT INTO worker (id, backend, device, device_memory_bytes, engine_version, jvm, host, first_seen_at,
                                    last_seen_at, current_run_id, current_attempt)
                VALUES (?, 'cpu', 'cpu x16', 0, '0.1.0', '25', 'host-a', ?, ?, ?, ?)
                """, id, Timestamp.from(lastSeen.minusSeconds(60)), Timestamp.from(lastSeen), currentRun, currentRun == null ? null : 1);
    }

    public void deadLetter(String topic, long offset, String value) {
        jdbc.update("""
                INSERT INTO dead_letter (topic, kafka_partition, kafka_offset, dlt_topic, record_key, record_value, error, error_class)
                VALUES (?, 0, ?, ?, 'k', ?, 'cannot deserialize', 'DeserializationException')
                """, topic, offset, topic + "-dlt", value);
    }
}
