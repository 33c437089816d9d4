package org.ccalab.api.comparison;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.ccalab.api.run.RunRow;

/**
 * The baseline of a comparison that names none: for each kind of run compared (benchmark, training), the first
 * MHA run of that kind in the order the comparison was asked for (the runs as listed in {@code runs=}, or the
 * experiments as listed in {@code experiments=}, each in ordinal order); where that kind has no MHA run, its first
 * run.
 *
 * <p>Why MHA: every other family here (GQA, MLA, CCA, CCGQA, OVQ) is an alternative to standard multi-head
 * attention, so "how does this variant compare" means "against MHA", whatever position MHA happens to hold in a
 * sweep or a selection. Why per kind: a benchmark run has no loss and a training run no benchmark cells, so a single
 * baseline of one kind leaves every run of the other kind without ratios. Why the order asked for: it is the order
 * the user sees and controls, not the order the runs happen to be stored in.
 *
 * <p>The dashboard picks the same default on its side (dashboard/src/features/compare/baseline.ts,
 * {@code defaultBaseline}); DefaultBaselineTest and baseline.test.ts check both on the same example. Change
 * them together.
 */
final class DefaultBaseline {
    static final String REFERENCE_FAMILY = "mha";

    private DefaultBaseline() {}

    /** One run id per kind, kinds in the order they first appear; empty only when there are no rows. */
    static List<UUID> of(List<RunRow> rows, List<UUID> runIds, List<UUID> experimentIds) {
        List<RunRow> asked = new ArrayList<>(rows);
        asked.sort(runIds.isEmpty()
                ? Comparator.<RunRow>comparingInt(r -> experimentIds.indexOf(r.experimentId())).thenComparingInt(RunRow::ordinal)
                : Comparator.comparingInt(r -> runIds.indexOf(r.id())));
        Map<String, RunRow> byKind = new LinkedHashMap<>();
        for (RunRow r : asked) {
            RunRow current = byKind.get(r.kind());
            if (current == null || (!REFERENCE_FAMILY.equals(current.family()) && REFERENCE_FAMILY.equals(r.family()))) {
                byKind.put(r.kind(), r);
            }
        }
        return byKind.values().stream().map(RunRow::id).toList();
    }
}
