package org.ccalab.launcher.infra;

import java.nio.file.Path;
import java.sql.DriverManager;

/**
 * Run in a child JVM by {@link InfrastructureTest}: starts the embedded PostgreSQL on a data directory, writes a
 * row, says READY and waits to be killed with SIGKILL, leaving its postmaster behind like a crashed launcher.
 */
public final class KilledLauncher {
    private KilledLauncher() {}

    public static void main(String[] args) throws Exception {
        EmbeddedDatabase db = EmbeddedDatabase.start(Path.of(args[0]), Integer.parseInt(args[1]), "ccalab");
        try (var c = DriverManager.getConnection(db.jdbcUrl()); var s = c.createStatement()) {
            s.execute("create table kept(v text); insert into kept values ('survives')");
        }
        System.out.println("READY");
        System.out.flush();
        Thread.sleep(120_000);
    }
}
