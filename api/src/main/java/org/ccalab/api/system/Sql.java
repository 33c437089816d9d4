package org.ccalab.api.system;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.LinkedHashMap;
import java.util.Map;

/** A WHERE clause built from optional filters, with named parameters; and small row-reading helpers. */
public final class Sql {
    private final StringBuilder where = new StringBuilder();
    private final Map<String, Object> params = new LinkedHashMap<>();

    public Sql and(String condition, String name, Object value) {
        if (value == null) return this;
        where.append(where.isEmpty() ? " WHERE " : " AND ").append(condition);
        params.put(name, value);
        return this;
    }

    public String where() {
        return where.toString();
    }

    public Map<String, Object> params() {
        return params;
    }

    /** A user's search text as a LIKE pattern matching it anywhere, its wildcards taken literally. */
    public static String contains(String text) {
        if (text == null || text.isBlank()) return null;
        String escaped = text.trim().toLowerCase(java.util.Locale.ROOT)
                .replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
        return "%" + escaped + "%";
    }

    public static Instant instant(ResultSet rs, String column) throws SQLException {
        OffsetDateTime t = rs.getObject(column, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
    }

    public static Integer nullableInt(ResultSet rs, String column) throws SQLException {
        int v = rs.getInt(column);
        return rs.wasNull() ? null : v;
    }

    public static Long nullableLong(ResultSet rs, String column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? null : v;
    }

    public static Double nullableDouble(ResultSet rs, String column) throws SQLException {
        double v = rs.getDouble(column);
        return rs.wasNull() ? null : v;
    }
}
