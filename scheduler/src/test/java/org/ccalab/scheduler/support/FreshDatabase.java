package org.ccalab.scheduler.support;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import org.springframework.beans.factory.DisposableBean;

/**
 * A database created on the local PostgreSQL server for one test class and dropped when its Spring
 * context closes. Server: system property {@code test.pg.url} (default
 * {@code jdbc:postgresql://127.0.0.1:5432/}), user {@code test.pg.user} (default postgres).
 */
public final class FreshDatabase implements DisposableBean {
    static final String SERVER = System.getProperty("test.pg.url", "jdbc:postgresql://127.0.0.1:5432/");
    static final String USER = System.getProperty("test.pg.user", "postgres");
    static final String PASSWORD = System.getProperty("test.pg.password", "");

    private final String name;

    public FreshDatabase(String prefix) {
        this.name = prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        admin("CREATE DATABASE " + name);
    }

    public String url() {
        return SERVER + name;
    }

    @Override
    public void destroy() {
        admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    }

    private static void admin(String sql) {
        try (Connection c = DriverManager.getConnection(SERVER + "postgres", USER, PASSWORD);
             Statement st = c.createStatement()) {
            st.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException("PostgreSQL at " + SERVER + " (user " + USER + "): " + sql, e);
        }
    }
}
