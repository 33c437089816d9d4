package org.ccalab.api.live;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import javax.sql.DataSource;
import org.ccalab.api.system.ApiProperties;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.jdbc.autoconfigure.DataSourceProperties;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * Drives {@link LiveFeeds} from PostgreSQL: LISTEN on {@code run_updates} and {@code queue_updates} over a
 * dedicated pgjdbc connection (a pooled one would be handed to other work between waits), outside the
 * pool. When LISTEN cannot be had (no connection, a pooler without LISTEN, or {@code forcePolling}) it
 * polls every {@code ccalab.api.live.poll-interval} instead, logs that once, and tries LISTEN again every
 * ten polls; after a reconnect it polls once, since notifications sent while it was away are lost.
 */
@Component
class NotificationListener implements SmartLifecycle {
    private static final Logger log = LoggerFactory.getLogger(NotificationListener.class);
    private static final int WAIT_MS = 500;

    private final LiveFeeds feeds;
    private final ApiProperties properties;
    private final ObjectProvider<DataSourceProperties> dataSourceProperties;
    private final DataSource dataSource;
    private volatile boolean running;
    private volatile boolean listening;
    private Thread thread;
    private long keepAliveDue;

    NotificationListener(LiveFeeds feeds, ApiProperties properties, ObjectProvider<DataSourceProperties> dataSourceProperties,
                         DataSource dataSource) {
        this.feeds = feeds;
        this.properties = properties;
        this.dataSourceProperties = dataSourceProperties;
        this.dataSource = dataSource;
    }

    /** Whether notifications arrive by LISTEN now (false: polling). */
    boolean listening() {
        return listening;
    }

    @Override
    public void start() {
        running = true;
        thread = Thread.ofPlatform().daemon().name("pg-listen").start(this::loop);
    }

    @Override
    public void stop() {
        running = false;
        if (thread != null) {
            thread.interrupt();
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    private void loop() {
        boolean warned = false;
        int pollsSinceTry = Integer.MAX_VALUE;
        while (running) {
            Connection connection = null;
            if (!properties.live().forcePolling() && pollsSinceTry >= 10) {
                pollsSinceTry = 0;
                connection = connect(warned);
                warned = warned || connection == null;
            }
            if (connection != null) {
                if (warned) {
                    log.info("LISTEN is back; live updates are pushed again");
                    feeds.pollAll();
                }
                warned = false;
                listen(connection);
                pollsSinceTry = Integer.MAX_VALUE;
                continue;
            }
            if (properties.live().forcePolling() && !warned) {
                log.info("live updates poll every {} (ccalab.api.live.force-polling)", properties.live().pollInterval());
                warned = true;
            }
            feeds.pollAll();
            keepAliveIfDue();
            pollsSinceTry++;
            sleep(properties.live().pollInterval().toMillis());
        }
    }

    private Connection connect(boolean alreadyWarned) {
        try {
            Connection c = open();
            try (Statement st = c.createStatement()) {
                st.execute("LISTEN " + ChangeNotifier.RUN_UPDATES);
                st.execute("LISTEN " + ChangeNotifier.QUEUE_UPDATES);
            }
            c.unwrap(PGConnection.class);
            return c;
        } catch (SQLException | RuntimeException e) {
            if (!alreadyWarned) {
                log.warn("LISTEN unavailable ({}); live updates fall back to polling every {}", e.getMessage(),
                        properties.live().pollInterval());
            }
            return null;
        }
    }

    private Connection open() throws SQLException {
        DataSourceProperties p = dataSourceProperties.getIfAvailable();
        if (p != null && p.getUrl() != null) {
            return DriverManager.getConnection(p.determineUrl(), p.determineUsername(), p.determinePassword());
        }
        // A DataSource configured without spring.datasource.url: borrow one connection for good.
        return dataSource.getConnection();
    }

    private void listen(Connection connection) {
        listening = true;
        try (connection) {
            PGConnection pg = connection.unwrap(PGConnection.class);
            while (running) {
                PGNotification[] batch = pg.getNotifications(WAIT_MS);
                if (batch != null && batch.length > 0) dispatch(batch);
                keepAliveIfDue();
                if (connection.isClosed()) throw new SQLException("connection closed");
            }
        } catch (SQLException e) {
            if (running) log.warn("LISTEN connection lost ({}); polling until it is back", e.getMessage());
        } finally {
            listening = false;
        }
    }

    private void dispatch(PGNotification[] batch) {
        Set<UUID> runs = new HashSet<>();
        boolean queue = false;
        for (PGNotification n : batch) {
            if (ChangeNotifier.QUEUE_UPDATES.equals(n.getName())) {
                queue = true;
            } else if (ChangeNotifier.RUN_UPDATES.equals(n.getName())) {
                try {
                    runs.add(UUID.fromString(n.getParameter().trim()));
                } catch (IllegalArgumentException e) {
                    log.debug("ignoring run_updates payload {}", n.getParameter());
                }
            }
        }
        feeds.runsChanged(runs);
        if (queue) feeds.queueChanged();
    }

    private void keepAliveIfDue() {
        long now = System.currentTimeMillis();
        if (now >= keepAliveDue) {
            keepAliveDue = now + properties.live().keepAlive().toMillis();
            feeds.keepAlive();
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
