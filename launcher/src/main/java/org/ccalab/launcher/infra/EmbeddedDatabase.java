package org.ccalab.launcher.infra;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server (binaries from a Maven artifact) whose data directory lives in the state dir,
 * kept across restarts. Holds one database for the platform.
 */
public final class EmbeddedDatabase implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedDatabase.class);

    private final EmbeddedPostgres postgres;
    private final String jdbcUrl;

    private EmbeddedDatabase(EmbeddedPostgres postgres, String jdbcUrl) {
        this.postgres = postgres;
        this.jdbcUrl = jdbcUrl;
    }

    public static EmbeddedDatabase start(Path dataDir, int port, String database) throws IOException, SQLException {
        Files.createDirectories(dataDir);
        stopOrphan(dataDir);
        long t0 = System.nanoTime();
        EmbeddedPostgres postgres = EmbeddedPostgres.builder().setDataDirectory(dataDir).setCleanDataDirectory(false)
                .setRegisterShutdownHook(false).setPort(port).start();
        try (Connection c = postgres.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            // zonky reports success when another server already held the port: make sure we talk to ours.
            try (ResultSet rs = s.executeQuery("show data_directory")) {
                rs.next();
                Path served = Path.of(rs.getString(1)).toRealPath();
                if (!served.equals(dataDir.toRealPath())) {
                    postgres.close();
                    throw new IllegalStateException("port " + port + " is held by another PostgreSQL (data directory "
                            + served + "); set ccalab.postgres.port to a free port");
                }
            }
            try (ResultSet rs = s.executeQuery("select 1 from pg_database where datname = '" + database + "'")) {
                if (!rs.next()) s.execute("create database " + database);
            }
        }
        log.info("PostgreSQL {} on port {} (data in {}) in {} ms", database, port, dataDir,
                (System.nanoTime() - t0) / 1_000_000);
        return new EmbeddedDatabase(postgres, postgres.getJdbcUrl("postgres", database));
    }

    /**
     * A launcher killed hard (kill -9, a crash) leaves its PostgreSQL running on this data directory and holding
     * the port. Its postmaster.pid names it; whatever was connected to it died with that launcher, so it is
     * stopped here (fast shutdown: a clean checkpoint, no recovery needed afterwards).
     */
    public static void stopOrphan(Path dataDir) throws IOException {
        Path pidFile = dataDir.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) return;
        long pid;
        try {
            pid = Long.parseLong(Files.readAllLines(pidFile).getFirst().trim());
        } catch (RuntimeException e) {
            return; // unreadable: PostgreSQL itself judges a stale file at start
        }
        var postmaster = ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                .filter(p -> p.info().command().map(c -> c.endsWith("/postgres")).orElse(false));
        if (postmaster.isEmpty()) return;
        log.warn("stopping PostgreSQL pid {} left running on {} by a launcher that did not stop cleanly", pid, dataDir);
        try {
            // SIGINT is PostgreSQL's fast shutdown (pg_ctl would refuse to run as root, as zonky's server may).
            new ProcessBuilder("kill", "-INT", Long.toString(pid)).inheritIO().start().waitFor();
            postmaster.get().onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while stopping PostgreSQL pid " + pid, e);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("PostgreSQL pid " + pid + " on " + dataDir + " did not stop within 30 s", e);
        }
    }

    public String jdbcUrl() {
        return jdbcUrl;
    }

    @Override
    public void close() throws IOException {
        postgres.close();
    }
}
