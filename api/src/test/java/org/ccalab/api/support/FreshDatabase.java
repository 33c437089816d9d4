package org.ccalab.api.support;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import org.springframework.test.context.DynamicPropertyRegistry;

/**
 * A new, empty PostgreSQL database on the local server (127.0.0.1:5432, trust auth, or
 * {@code CCALAB_TEST_PG_*}), one per test class, dropped when the test JVM ends; the api's Flyway migrates it on
 * start. Tests never share rows, so each asserts exact counts.
 */
public final class FreshDatabase {
    private static final String HOST = env("CCALAB_TEST_PG_HOST", "127.0.0.1");
    private static final String PORT = env("CCALAB_TEST_PG_PORT", "5432");
    private static final String USER = env("CCALAB_TEST_PG_USER", "postgres");
    private static final String PASSWORD = env("CCALAB_TEST_PG_PASSWORD", "");

    private final String name = "api_test_" + UUID.randomUUID().toString().replace("-", "").substring(0, 16);

    public FreshDatabase() {
        admin("CREATE DATABASE " + name);
        // Dropped when the test JVM ends: by then every Spring context using it is closed, whereas an
        // @AfterAll runs while the class's context (and its LISTEN connection) still uses it.
        Runtime.getRuntime().addShutdownHook(new Thread(this::drop));
    }

    public String url() {
        return "jdbc:postgresql://" + HOST + ":" + PORT + "/" + name;
    }

    public void register(DynamicPropertyRegistry registry) {
        registry.add("spring.datasource.url", this::url);
        registry.add("spring.datasource.username", () -> USER);
        registry.add("spring.datasource.password", () -> PASSWORD);
    }

    public Connection connect() throws SQLException {
        return DriverManager.getConnection(url(), USER, PASSWORD);
    }

    public void drop() {
        admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }

    private static void admin(String sql) {
        try (Connection c = DriverManager.getConnection("jdbc:postgresql://" + HOST + ":" + PORT + "/postgres", USER, PASSWORD);
             Statement st = c.createStatement()) {
            st.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException("PostgreSQL at " + HOST + ":" + PORT + " is needed by this test: " + e.getMessage(), e);
        }
    }

    private static String env(String key, String fallback) {
        String v = System.getenv(key);
        return v == null || v.isBlank() ? fallback : v;
    }
}
