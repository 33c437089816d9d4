package org.ccalab.common.sweep;

import java.util.Map;
import org.ccalab.common.run.RunSpec;

/**
 * One run of an expanded sweep: its position, which request variant it uses, the grid values that made
 * it (key order as in the request), and its complete spec.
 */
public record SweepPoint(int ordinal, int variantIndex, Map<String, Object> gridValues, RunSpec spec) {
    public SweepPoint {
        gridValues = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(gridValues));
    }
}
