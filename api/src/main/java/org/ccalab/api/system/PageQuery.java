package org.ccalab.api.system;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Server-side paging and sorting of a list endpoint: {@code page} (0-based), {@code size}, and
 * {@code sort=field[,asc|desc]} where field is one of the endpoint's sortable names, each mapped to a
 * fixed SQL column so a client never writes SQL. Every bad value is a 400 naming the parameter.
 */
public record PageQuery(int page, int size, String sortField, boolean ascending, String orderBy) {

    /**
     * @param sortable  api field name -> SQL expression, in the order clients see listed
     * @param tieBreak  appended to every ORDER BY so pages are stable (e.g. {@code id})
     */
    public static PageQuery of(Integer page, Integer size, String sort, Map<String, String> sortable,
                               String defaultSort, String tieBreak, int defaultSize, int maxSize) {
        int p = page == null ? 0 : page;
        int s = size == null ? defaultSize : size;
        if (p < 0) throw ApiException.badParameter("page", "must be >= 0, got " + p);
        if (s < 1 || s > maxSize) throw ApiException.badParameter("size", "must be in [1, " + maxSize + "], got " + s);
        if (p > Integer.MAX_VALUE / s) throw ApiException.badParameter("page", "is too large");
        String[] parts = (sort == null || sort.isBlank() ? defaultSort : sort).split(",");
        String field = parts[0].trim();
        String column = sortable.get(field);
        if (column == null)
            throw ApiException.badParameter("sort", "unknown sort field \"" + field + "\", expected one of " + sortable.keySet());
        boolean asc = false;
        if (parts.length > 2) throw ApiException.badParameter("sort", "must be field[,asc|desc], got \"" + sort + "\"");
        if (parts.length == 2) {
            String dir = parts[1].trim().toLowerCase(Locale.ROOT);
            if (!dir.equals("asc") && !dir.equals("desc"))
                throw ApiException.badParameter("sort", "direction must be asc or desc, got \"" + parts[1].trim() + "\"");
            asc = dir.equals("asc");
        }
        String orderBy = column + (asc ? " ASC" : " DESC") + " NULLS LAST, " + tieBreak;
        return new PageQuery(p, s, field, asc, orderBy);
    }

    public long offset() {
        return (long) page * size;
    }

    public String sortLabel() {
        return sortField + "," + (ascending ? "asc" : "desc");
    }

    public <T> Page<T> page(List<T> items, long total) {
        return new Page<>(items, page, size, total, (int) ((total + size - 1) / size), sortLabel());
    }

    /** Parses a comma-separated filter of enum names (case-insensitive); null when absent. */
    public static <E extends Enum<E>> List<String> enumFilter(String name, String value, Class<E> type) {
        if (value == null || value.isBlank()) return null;
        List<String> out = new ArrayList<>();
        for (String raw : value.split(",")) {
            String v = raw.trim().toUpperCase(Locale.ROOT);
            try {
                out.add(Enum.valueOf(type, v).name());
            } catch (IllegalArgumentException e) {
                throw ApiException.badParameter(name, "unknown value \"" + raw.trim() + "\", expected one of "
                        + Arrays.toString(type.getEnumConstants()));
            }
        }
        return out;
    }
}
