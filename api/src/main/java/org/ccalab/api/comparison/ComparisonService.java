package org.ccalab.api.comparison;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.ccalab.api.run.CellView;
import org.ccalab.api.run.RunRepository;
import org.ccalab.api.run.RunRow;
import org.ccalab.api.system.ApiException;
import org.springframework.stereotype.Service;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Compares runs, or every run of some experiments, against a baseline. The baseline is a run, or (with
 * experiments) an experiment, whose cells are then the first measured per key in sweep order and whose
 * loss is that of its first run with the metric. Benchmark runs get a ratio per matching cell (phase,
 * scope, causal, batch, seqLen); training runs the ratio of their final and minimum loss. A run baseline stands for
 * its variant: every compared run of its kind with the same variant config is a baseline run too, so a sweep's cells
 * at every point find their baseline. Without a baseline named, {@link DefaultBaseline} picks one variant per kind
 * (MHA first), the rule the dashboard shares.
 */
@Service
class ComparisonService {
    static final int MAX_RUNS = 2000;
    static final String DEFAULT_METRIC = "val/loss";

    private final RunRepository runs;
    private final ComparisonRepository comparisons;
    private final JsonMapper json;

    ComparisonService(RunRepository runs, ComparisonRepository comparisons, JsonMapper json) {
        this.runs = runs;
        this.comparisons = comparisons;
        this.json = json;
    }

    record Baseline(String type, UUID id, List<UUID> runIds) {}

    /**
     * A run's series against the baseline's. {@code minValue}/{@code minRatio} are always the lowest finite values
     * (the best of a lower-is-better metric, as before directions existed); {@code bestValue}/{@code bestRatio} follow
     * {@code direction}: the lowest for {@code LOWER_IS_BETTER}, the highest for {@code HIGHER_IS_BETTER}.
     */
    record TrainingRatio(String metric, Double finalValue, Long finalStep, Double minValue, Double baselineFinalValue,
                         Double baselineMinValue, Double finalRatio, Double minRatio, MetricDirection direction,
                         Double maxValue, Double baselineMaxValue, Double bestValue, Double baselineBestValue,
                         Double bestRatio) {}

    record RunComparison(UUID runId, UUID experimentId, String experimentName, int ordinal, String kind, String family,
                         String status, boolean baseline, JsonNode variant, JsonNode spec, List<Ratios.CellRatio> cells,
                         int unmatchedCells, TrainingRatio training) {}

    record Comparison(Baseline baseline, String metric, MetricDirection direction, List<RunComparison> runs) {}

    Comparison compare(List<UUID> runIds, List<UUID> experimentIds, UUID baselineId, String metric) {
        boolean byExperiment = !experimentIds.isEmpty();
        for (UUID e : experimentIds) {
            if (!comparisons.experimentExists(e)) throw ApiException.notFound("experiment", e);
        }
        List<RunRow> rows = runs.findAll(runIds, experimentIds);
        Set<UUID> found = new LinkedHashSet<>();
        rows.forEach(r -> found.add(r.id()));
        for (UUID id : runIds) {
            if (!found.contains(id)) throw ApiException.notFound("run", id);
        }
        if (rows.size() > MAX_RUNS) {
            throw ApiException.badParameter(byExperiment ? "experiments" : "runs",
                    "the comparison covers " + rows.size() + " runs, at most " + MAX_RUNS);
        }
        if (rows.isEmpty()) throw ApiException.badParameter("experiments", "the experiments have no runs to compare");

        Baseline baseline = resolveBaseline(baselineId, rows, runIds, experimentIds);
        List<RunRow> baselineRows = new ArrayList<>();
        for (UUID id : baseline.runIds()) {
            RunRow r = rows.stream().filter(x -> x.id().equals(id)).findFirst()
                    .orElseGet(() -> runs.find(id).orElseThrow(() -> ApiException.notFound("run", id)));
            baselineRows.add(r);
        }

        List<UUID> all = new ArrayList<>(found);
        baseline.runIds().stream().filter(id -> !found.contains(id)).forEach(all::add);
        Map<UUID, List<CellView>> cells = runs.cellsOf(all);
        Map<UUID, ComparisonRepository.LossSummary> losses = comparisons.lossSummaries(all, metric);
        if (losses.isEmpty() && !DEFAULT_METRIC.equals(metric)) {
            // A series asked for by name that no run records is a typo, not a comparison of nulls. (The default,
            // val/loss, is absent from benchmark-only comparisons and stays allowed.)
            List<String> known = comparisons.metricNames(all);
            throw ApiException.badParameter("metric", "no compared run records the series \"" + metric + "\"; "
                    + (known.isEmpty() ? "they record none" : "they record " + String.join(", ", known)));
        }

        // Baseline cells: per key, the first in sweep order among the baseline's runs.
        Map<CellKey, CellView> baselineCells = new java.util.LinkedHashMap<>();
        for (RunRow r : baselineRows) Ratios.index(cells.getOrDefault(r.id(), List.of())).forEach(baselineCells::putIfAbsent);
        ComparisonRepository.LossSummary baselineLoss = baselineRows.stream().map(r -> losses.get(r.id()))
                .filter(java.util.Objects::nonNull).findFirst().orElse(null);

        MetricDirection direction = MetricDirection.of(metric);
        List<RunComparison> out = new ArrayList<>();
        for (RunRow r : rows) {
            List<CellView> own = cells.getOrDefault(r.id(), List.of());
            List<Ratios.CellRatio> ratios = Ratios.cells(own, baselineCells);
            int unmatched = Ratios.index(own).size() - ratios.size();
            ComparisonRepository.LossSummary loss = losses.get(r.id());
            TrainingRatio training = null;
            if ("TRAINING".equals(r.kind()) || loss != null) {
                Double f = loss == null ? null : loss.finalValue();
                Double m = loss == null ? null : loss.minValue();
                Double bf = baselineLoss == null ? null : baselineLoss.finalValue();
                Double bm = baselineLoss == null ? null : baselineLoss.minValue();
                Double x = loss == null ? null : loss.maxValue();
                Double bx = baselineLoss == null ? null : baselineLoss.maxValue();
                Double best = direction.best(m, x), baselineBest = direction.best(bm, bx);
                training = new TrainingRatio(metric, f, loss == null ? null : loss.finalStep(), m, bf, bm,
                        Ratios.ratio(f, bf), Ratios.ratio(m, bm), direction, x, bx, best, baselineBest,
                        Ratios.ratio(best, baselineBest));
            }
            out.add(new RunComparison(r.id(), r.experimentId(), r.experimentName(), r.ordinal(), r.kind(), r.family(),
                    r.status(), baseline.runIds().contains(r.id()), json.readTree(r.variantJson()),
                    json.readTree(r.specJson()), ratios, unmatched, training));
        }
        return new Comparison(baseline, metric, direction, out);
    }

    private Baseline resolveBaseline(UUID baselineId, List<RunRow> rows, List<UUID> runIds, List<UUID> experimentIds) {
        if (baselineId == null) {
            List<UUID> ids = DefaultBaseline.variantRuns(rows, runIds, experimentIds);
            return new Baseline("run", ids.getFirst(), ids);
        }
        if (experimentIds.contains(baselineId)) {
            List<UUID> ids = rows.stream().filter(r -> r.experimentId().equals(baselineId)).map(RunRow::id).toList();
            return new Baseline("experiment", baselineId, ids);
        }
        var named = rows.stream().filter(r -> r.id().equals(baselineId)).findFirst().or(() -> runs.find(baselineId));
        if (named.isPresent()) {
            // A named run stands for its variant: it, then the compared runs of its kind with the same variant config
            // (a sweep measures one cell key per run), as the dashboard's compare page does. It is the baseline of its
            // own kind only: every other kind compared keeps its default (a benchmark run has no loss, a training run
            // no cells).
            List<UUID> ids = new ArrayList<>(List.of(baselineId));
            ids.addAll(DefaultBaseline.sameVariant(named.get(), DefaultBaseline.asked(rows, runIds, experimentIds)));
            for (UUID d : DefaultBaseline.variantRuns(rows, runIds, experimentIds)) {
                String kind = rows.stream().filter(r -> r.id().equals(d)).findFirst().map(RunRow::kind).orElseThrow();
                if (!kind.equals(named.get().kind())) ids.add(d);
            }
            return new Baseline("run", baselineId, ids);
        }
        throw ApiException.badParameter("baseline", "must be one of the compared runs"
                + (experimentIds.isEmpty() ? "" : " or experiments") + ", or another existing run; " + baselineId + " is neither");
    }
}
