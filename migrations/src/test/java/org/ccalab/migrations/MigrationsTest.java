package org.ccalab.migrations;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationVersion;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Migrates a fresh database on the real PostgreSQL server and checks the result against the committed
 * snapshot, then checks that the constraints carrying idempotency and integrity really refuse bad rows.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MigrationsTest {
    private static final Path SNAPSHOT = Path.of("src/test/resources/schema-snapshot.txt");

    private FreshDatabase db;

    @BeforeAll
    void migrate() throws SQLException {
        db = new FreshDatabase("ccalab_migrations_test");
        Flyway.configure().dataSource(db.url(), db.user(), db.password()).load().migrate();
    }

    @AfterAll
    void drop() throws SQLException {
        db.close();
    }

    @Test
    void schemaMatchesTheCommittedSnapshot() throws Exception {
        String actual;
        try (Connection c = db.connect()) {
            actual = SchemaSnapshot.of(c);
        }
        if (Boolean.getBoolean("schema.snapshot.update")) Files.writeString(SNAPSHOT, actual);
        String expected = Files.exists(SNAPSHOT) ? Files.readString(SNAPSHOT) : "";
        assertThat(actual)
                .withFailMessage("""
                        The migrated schema differs from %s.
                        If the change is intended, regenerate the snapshot and commit it with the migration:
                          ./mvnw -B -q -pl migrations test -Dschema.snapshot.update=true
                        then review `git diff %s`.""", SNAPSHOT, SNAPSHOT)
                .isEqualTo(expected);
    }

    @Test
    void migratingStepByStepOverThePreviousSchemaGivesTheSameSchema() throws Exception {
        // A production database is migrated from an older version, not created fresh: both paths must agree.
        try (FreshDatabase stepwise = new FreshDatabase("ccalab_migrations_stepwise")) {
            Flyway first = Flyway.configure().dataSource(stepwise.url(), stepwise.user(), stepwise.password())
                    .target(MigrationVersion.fromVersion("9")).load();
            assertThat(first.migrate().migrationsExecuted).isEqualTo(9);
            Flyway.configure().dataSource(stepwise.url(), stepwise.user(), stepwise.password()).load().migrate();
            try (Connection a = stepwise.connect(); Connection b = db.connect()) {
                assertThat(SchemaSnapshot.of(a)).isEqualTo(SchemaSnapshot.of(b));
            }
        }
    }

    @Test
    void aReplayedEventIsRefusedByThePrimaryKey() throws Exception {
        try (Connection c = db.connect(); Statement st = c.createStatement()) {
            String run = insertExperimentAndRun(st);
            String insert = "insert into run_event(run_id, attempt, seq, event_id, type, time, payload) "
                    + "values ('" + run + "', 1, 0, gen_random_uuid(), 'STARTED', now(), '{}') on conflict do nothing";
            assertThat(st.executeUpdate(insert)).isEqualTo(1);
            assertThat(st.executeUpdate(insert)).isZero();
            assertThat(count(st, "select count(*) from run_event where run_id = '" + run + "'")).isEqualTo(1);
        }
    }

    @Test
    void integrityConstraintsRefuseImpossibleRows() throws Exception {
        try (Connection c = db.connect(); Statement st = c.createStatement()) {
            String run = insertExperimentAndRun(st);
            assertThatThrownBy(() -> st.executeUpdate("update run set status = 'EXPLODED' where id = '" + run + "'"))
                    .hasMessageContaining("run_status_check");
            assertThatThrownBy(() -> st.executeUpdate(
                    "update run set status = 'FAILED', finished_at = now() where id = '" + run + "'"))
                    .hasMessageContaining("run_failed_has_class");
            assertThatThrownBy(() -> st.executeUpdate("update run set attempt = 4 where id = '" + run + "'"))
                    .hasMessageContaining("run_attempt_within_budget");
            assertThatThrownBy(() -> st.executeUpdate("insert into metric_point(run_id, name, step, value, attempt) "
                    + "values ('" + run + "', 'train/loss', -1, 1.0, 1)"))
                    .hasMessageContaining("metric_point_step_check");
        }
    }

    @Test
    void deletingAnExperimentCascadesToItsRunsAndTheirData() throws Exception {
        try (Connection c = db.connect(); Statement st = c.createStatement()) {
            String run = insertExperimentAndRun(st);
            st.executeUpdate("insert into metric_point(run_id, name, step, value, attempt) values ('" + run
                    + "', 'train/loss', 0, 2.5, 1)");
            st.executeUpdate("delete from experiment where id = (select experiment_id from run where id = '" + run + "')");
            assertThat(count(st, "select count(*) from run where id = '" + run + "'")).isZero();
            assertThat(count(st, "select count(*) from metric_point where run_id = '" + run + "'")).isZero();
        }
    }

    private static String insertExperimentAndRun(Statement st) throws SQLException {
        try (ResultSet rs = st.executeQuery("""
                with e as (insert into experiment(id, name, kind, request) values (gen_random_uuid(), 'e', 'TRAINING', '{}')
                           returning id)
                insert into run(id, experiment_id, ordinal, kind, family, variant, spec, config_hash, seed)
                select gen_random_uuid(), e.id, 0, 'TRAINING', 'mha', '{}', '{}', 'abc', 7 from e returning id""")) {
            rs.next();
            return rs.getString(1);
        }
    }

    private static long count(Statement st, String sql) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
