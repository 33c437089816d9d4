package org.ccalab.migrations;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/**
 * A database created on the local PostgreSQL server for one test class and dropped after it, so tests
 * never see each other's rows or a half-migrated schema. Server: system property {@code test.pg.url}
 * (default {@code jdbc:postgresql://127.0.0.1:5432/}), user {@code test.pg.user} (default postgres).
 */
final class FreshDatabase implements AutoCloseable {
    private static final String SERVER = System.getProperty("test.pg.url", "jdbc:postgresql://127.0.0.1:5432/");
    private static final String USER = System.getProperty("test.pg.user", "postgres");
    private static final String PASSWORD = System.getProperty("test.pg.password", "");

    private final String name;

    FreshDatabase(String prefix) throws SQLException {
        this.name = prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 12);
        try (Connection admin = DriverManager.getConnection(SERVER + "postgres", USER, PASSWORD);
             Statement st = admin.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        }
    }

    String url() {
        return SERVER + name;
    }

    String user() {
        return USER;
    }

    String password() {
        return PASSWORD;
    }

    Connection connect() throws SQLException {
        return DriverManager.getConnection(url(), USER, PASSWORD);
    }

    @Override
    public void close() throws SQLException {
        try (Connection admin = DriverManager.getConnection(SERVER + "postgres", USER, PASSWORD);
             Statement st = admin.createStatement()) {
            st.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
        }
    }
}
