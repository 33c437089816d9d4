package org.ccalab.scheduler.run;

import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * PostgreSQL notifications the api's live feed LISTENs to. pg_notify is transactional: issued inside the
 * change's transaction, it is delivered on commit and never for a rolled-back change.
 */
@Component
public class RunNotifications {
    private final JdbcClient jdbc;

    public RunNotifications(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public void runUpdated(UUID runId) {
        jdbc.sql("select pg_notify('run_updates', ?)").param(runId.toString()).query().singleRow();
    }

    public void queueUpdated() {
        jdbc.sql("select pg_notify('queue_updates', '')").query().singleRow();
    }
}
