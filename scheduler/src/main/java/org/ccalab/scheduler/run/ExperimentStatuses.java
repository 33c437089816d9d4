package org.ccalab.scheduler.run;

import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * An experiment's status is derived from its runs, never set by hand: QUEUED while every run is queued,
 * RUNNING while any is in flight, and once all are terminal FAILED if any failed, else CANCELLED if any
 * was cancelled, else SUCCEEDED. Re-running failed runs therefore reopens the experiment by itself.
 */
@Component
public class ExperimentStatuses {
    private static final String DERIVE = """
            update experiment e set status = d.status, updated_at = now()
            from (
                select r.experiment_id,
                       case
                           when bool_and(r.status in ('SUCCEEDED', 'FAILED', 'CANCELLED')) then
                               case when bool_or(r.status = 'FAILED') then 'FAILED'
                                    when bool_or(r.status = 'CANCELLED') then 'CANCELLED'
                                    else 'SUCCEEDED' end
                           when bool_and(r.status = 'QUEUED') then 'QUEUED'
                           else 'RUNNING'
                       end as status
                from run r
                where %s
                group by r.experiment_id
            ) d
            where e.id = d.experiment_id and e.status <> d.status
            """;

    private final JdbcClient jdbc;

    public ExperimentStatuses(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** Re-derives one experiment, in the caller's transaction. */
    public void refresh(UUID experimentId) {
        jdbc.sql(DERIVE.formatted("r.experiment_id = :id")).param("id", experimentId).update();
    }

    /** Re-derives every experiment that is not terminal (and those a rerun reopened); returns how many changed. */
    public int refreshActive() {
        return jdbc.sql(DERIVE.formatted("""
                r.experiment_id in (select id from experiment where status in ('QUEUED', 'RUNNING')
                                    union select experiment_id from run
                                          where status in ('QUEUED', 'DISPATCHED', 'RUNNING', 'RETRYING'))""")).update();
    }
}
