package org.ccalab.api.live;

import java.util.Collection;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * Announces the api's own changes on the channels the scheduler's ingester uses (contracts.md), inside
 * the caller's transaction: PostgreSQL delivers a NOTIFY only on commit, so a listener never hears of a
 * change it cannot yet read, nor of one that rolled back.
 */
@Component
public class ChangeNotifier {
    public static final String RUN_UPDATES = "run_updates";
    public static final String QUEUE_UPDATES = "queue_updates";

    private final JdbcClient jdbc;

    public ChangeNotifier(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public void runsChanged(Collection<UUID> runIds) {
        for (UUID id : runIds) {
            jdbc.sql("SELECT pg_notify('" + RUN_UPDATES + "', :id)").param("id", id.toString()).query(Object.class).list();
        }
    }

    public void queueChanged() {
        jdbc.sql("SELECT pg_notify('" + QUEUE_UPDATES + "', '')").query(Object.class).list();
    }
}
