package org.ccalab.api.system;

import java.util.List;

/** One page of a list endpoint with the totals a table needs to render its pager. */
public record Page<T>(List<T> items, int page, int size, long totalElements, int totalPages, String sort) {}
