package org.ccalab.migrations;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * A textual, order-stable description of the public schema: tables with their columns, constraints
 * (as PostgreSQL prints them back), indexes and sequences. Flyway's own history table is left out:
 * it records checksums and install times, not the schema.
 */
final class SchemaSnapshot {
    private SchemaSnapshot() {}

    static String of(Connection c) throws SQLException {
        StringBuilder out = new StringBuilder();
        append(c, out, "column", """
                select table_name || '.' || column_name || ' ' || data_type
                       || case when is_nullable = 'NO' then ' not null' else '' end
                       || coalesce(' default ' || column_default, '')
                       || case when is_identity = 'YES' then ' identity ' || identity_generation else '' end
                from information_schema.columns
                where table_schema = 'public' and table_name <> 'flyway_schema_history'
                order by table_name, ordinal_position""");
        append(c, out, "constraint", """
                select cl.relname || '.' || co.conname || ' ' || pg_get_constraintdef(co.oid)
                from pg_constraint co join pg_class cl on cl.oid = co.conrelid
                join pg_namespace n on n.oid = cl.relnamespace
                where n.nspname = 'public' and cl.relname <> 'flyway_schema_history'
                order by cl.relname, co.conname""");
        append(c, out, "index", """
                select indexdef from pg_indexes
                where schemaname = 'public' and tablename <> 'flyway_schema_history'
                order by tablename, indexname""");
        append(c, out, "sequence", """
                select sequence_name || ' ' || data_type || ' max ' || maximum_value
                from information_schema.sequences where sequence_schema = 'public'
                order by sequence_name""");
        return out.toString();
    }

    private static void append(Connection c, StringBuilder out, String kind, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) out.append(kind).append(' ').append(rs.getString(1)).append('\n');
        }
    }
}
