package org.ccalab.api.comparison;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import org.ccalab.api.run.RunRow;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The baseline of a comparison that names none: for each kind of run compared (benchmark, training), a
 * <em>variant</em>: the variant of the first MHA run of that kind in the order the comparison was asked for (the
 * runs as listed in {@code runs=}, or the experiments as listed in {@code experiments=}, each in ordinal order),
 * or of its first run where that kind has no MHA run; and then every run of that kind with that same variant
 * config (equal {@code run.variant} JSON), in the order asked.
 *
 * <p>Why MHA: every other family here (GQA, MLA, CCA, CCGQA, OVQ) is an alternative to standard multi-head
 * attention, so "how does this variant compare" means "against MHA", whatever position MHA happens to hold in a
 * sweep or a selection. Why per kind: a benchmark run has no loss and a training run no benchmark cells, so a single
 * baseline of one kind leaves every run of the other kind without ratios. Why the order asked for: it is the order
 * the user sees and controls, not the order the runs happen to be stored in. Why every run of the variant: a sweep
 * over {@code seqLen} (or any spec field) runs the baseline variant once per point, and each other run's cells must
 * be matched against the baseline run that measured the same cell key, not only against the first one.
 *
 * <p>The dashboard picks the same default on its side (dashboard/src/features/compare/baseline.ts,
 * {@code defaultBaseline}, whose variant, {@code variantKey}, ratios.ts matches cells across); DefaultBaselineTest
 * and baseline.test.ts check both on the same example. Change them together.
 */
final class DefaultBaseline {
    static final String REFERENCE_FAMILY = "mha";
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private DefaultBaseline() {}

    /**
     * The run that picks each kind's baseline variant (kinds in the order they first appear): the first MHA run of the
     * kind in the order asked, else its first run; empty only when there are no rows. The dashboard's
     * {@code defaultBaseline} picks the same run.
     */
    static List<UUID> of(List<RunRow> rows, List<UUID> runIds, List<UUID> experimentIds) {
        return chosen(asked(rows, runIds, experimentIds)).stream().map(RunRow::id).toList();
    }

    /**
     * The default baseline's runs: per kind (kinds in the order they first appear) the run {@link #of} picks, then
     * every other run of that kind with the same variant config, in the order asked.
     */
    static List<UUID> variantRuns(List<RunRow> rows, List<UUID> runIds, List<UUID> experimentIds) {
        List<RunRow> asked = asked(rows, runIds, experimentIds);
        List<UUID> out = new ArrayList<>();
        for (RunRow chosen : chosen(asked)) {
            out.add(chosen.id());
            out.addAll(sameVariant(chosen, asked));
        }
        return out;
    }

    /** The runs of {@code rows} other than {@code run} of its kind and variant config, in the order of {@code rows}. */
    static List<UUID> sameVariant(RunRow run, List<RunRow> rows) {
        JsonNode variant = variant(run);
        List<UUID> out = new ArrayList<>();
        for (RunRow r : rows) {
            if (!r.id().equals(run.id()) && r.kind().equals(run.kind()) && r.family().equals(run.family())
                    && Objects.equals(variant(r), variant)) {
                out.add(r.id());
            }
        }
        return out;
    }

    static List<RunRow> asked(List<RunRow> rows, List<UUID> runIds, List<UUID> experimentIds) {
        List<RunRow> asked = new ArrayList<>(rows);
        asked.sort(runIds.isEmpty()
                ? Comparator.<RunRow>comparingInt(r -> experimentIds.indexOf(r.experimentId())).thenComparingInt(RunRow::ordinal)
                : Comparator.comparingInt(r -> runIds.indexOf(r.id())));
        return asked;
    }

    private static List<RunRow> chosen(List<RunRow> asked) {
        Map<String, RunRow> byKind = new LinkedHashMap<>();
        for (RunRow r : asked) {
            RunRow current = byKind.get(r.kind());
            if (current == null || (!REFERENCE_FAMILY.equals(current.family()) && REFERENCE_FAMILY.equals(r.family()))) {
                byKind.put(r.kind(), r);
            }
        }
        return new ArrayList<>(byKind.values());
    }

    /** The variant config as a tree (key order does not matter); the text itself where it does not parse. */
    private static JsonNode variant(RunRow r) {
        if (r.variantJson() == null) return null;
        try {
            return JSON.readTree(r.variantJson());
        } catch (RuntimeException e) {
            return JSON.getNodeFactory().stringNode(r.variantJson());
        }
    }
}
