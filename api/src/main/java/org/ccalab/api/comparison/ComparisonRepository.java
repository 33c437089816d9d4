package org.ccalab.api.comparison;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.ccalab.api.system.Sql;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

@Repository
class ComparisonRepository {
    private final JdbcClient jdbc;

    ComparisonRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** The final (last step), the lowest and the highest finite value of one series. */
    record LossSummary(Double finalValue, Long finalStep, Double minValue, Double maxValue) {}

    Map<UUID, LossSummary> lossSummaries(List<UUID> runIds, String metric) {
        Map<UUID, LossSummary> out = new HashMap<>();
        if (runIds.isEmpty()) return out;
        jdbc.sql("""
                SELECT run_id, (array_agg(value ORDER BY step DESC))[1] AS final_value, max(step) AS final_step,
                       min(value) FILTER (WHERE value NOT IN ('NaN', 'Infinity', '-Infinity')) AS min_value,
                       max(value) FILTER (WHERE value NOT IN ('NaN', 'Infinity', '-Infinity')) AS max_value
                  FROM metric_point WHERE run_id IN (:ids) AND name = :name GROUP BY run_id
                """).param("ids", runIds).param("name", metric).query(rs -> {
            out.put(rs.getObject("run_id", UUID.class), new LossSummary(Sql.nullableDouble(rs, "final_value"),
                    Sql.nullableLong(rs, "final_step"), Sql.nullableDouble(rs, "min_value"),
                    Sql.nullableDouble(rs, "max_value")));
        });
        return out;
    }

    /** The names of the series the runs record, sorted. */
    List<String> metricNames(List<UUID> runIds) {
        if (runIds.isEmpty()) return List.of();
        return jdbc.sql("SELECT DISTINCT name FROM metric_point WHERE run_id IN (:ids) ORDER BY name")
                .param("ids", runIds).query(String.class).list();
    }

    boolean experimentExists(UUID id) {
        return jdbc.sql("SELECT count(*) FROM experiment WHERE id = :id").param("id", id).query(Long.class).single() > 0;
    }
}
