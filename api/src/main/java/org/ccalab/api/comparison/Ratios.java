package org.ccalab.api.comparison;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ccalab.api.run.CellView;

/**
 * The arithmetic of a comparison, apart from any I/O. Ratios are run / baseline: a latency ratio below 1
 * is faster than the baseline, a TFLOP/s or loss ratio below 1 is less throughput or lower loss. A
 * ratio is null where either side is missing, not finite, or the baseline is 0.
 */
final class Ratios {
    private Ratios() {}

    record CellRatio(String phase, String scope, boolean causal, int batch, int seqLen, String dtype, double p50Ms,
                     Double tflops, double baselineP50Ms, Double baselineTflops, Double latencyRatio, Double tflopsRatio) {}

    /** The first cell per key (cells arrive ordered by dtype within a key, so the choice is stable). */
    static Map<CellKey, CellView> index(List<CellView> cells) {
        Map<CellKey, CellView> out = new LinkedHashMap<>();
        for (CellView c : cells) out.putIfAbsent(CellKey.of(c), c);
        return out;
    }

    /** One ratio per cell of the run whose key the baseline also measured, in the run's cell order. */
    static List<CellRatio> cells(List<CellView> run, Map<CellKey, CellView> baseline) {
        List<CellRatio> out = new ArrayList<>();
        for (CellView c : index(run).values()) {
            CellView b = baseline.get(CellKey.of(c));
            if (b == null) continue;
            out.add(new CellRatio(c.phase(), c.scope(), c.causal(), c.batch(), c.seqLen(), c.dtype(), c.p50Ms(), c.tflops(),
                    b.p50Ms(), b.tflops(), ratio(c.p50Ms(), b.p50Ms()), ratio(c.tflops(), b.tflops())));
        }
        return out;
    }

    static Double ratio(Double value, Double baseline) {
        if (value == null || baseline == null || !Double.isFinite(value) || !Double.isFinite(baseline) || baseline == 0) return null;
        return value / baseline;
    }
}
