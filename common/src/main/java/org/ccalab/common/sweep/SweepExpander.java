package org.ccalab.common.sweep;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.OvqConfig;

/**
 * Expands an experiment's sweep into run specs: every variant x the cartesian product of the grid, the
 * last grid key varying fastest, ordinals in that order. Validates the whole request first and reports
 * every fault it finds with its path in the request; a fault in a value that came from the grid is
 * reported at that grid entry ({@code grid.seqLen[2]}), one from the base spec at the base
 * ({@code benchmark.dtype}), including a base value that the grid replaces at every point and so no run holds
 * ({@code benchmark.seqLen: -5} under a grid over {@code seqLen}). The cardinality limit is checked before anything is bound, so an absurd grid
 * costs nothing.
 */
public final class SweepExpander {
    public static final int DEFAULT_MAX_RUNS = 1000;
    /** The seed of runs whose grid does not sweep {@code seed}. */
    public static final long DEFAULT_SEED = 0;
    public static final String SEED = "seed";
    /** More faults than this are truncated: a client fixes the first ones and resubmits. */
    static final int MAX_VIOLATIONS = 50;

    private final int maxRuns;

    public SweepExpander(int maxRuns) {
        if (maxRuns < 1) throw new IllegalArgumentException("maxRuns must be >= 1, got " + maxRuns);
        this.maxRuns = maxRuns;
    }

    public SweepExpander() {
        this(DEFAULT_MAX_RUNS);
    }

    public int maxRuns() {
        return maxRuns;
    }

    /** The grid keys a sweep of {@code kind} accepts: {@code seed} and the fields of its base spec. */
    public static List<String> gridKeys(RunKind kind) {
        List<String> keys = new ArrayList<>();
        keys.add(SEED);
        Arrays.stream(baseType(kind).getRecordComponents()).map(c -> c.getName()).forEach(keys::add);
        return keys;
    }

    /** @throws InvalidSweepException naming every fault found */
    public List<SweepPoint> expand(SweepRequest request) {
        Violations v = new Violations();
        RunKind kind = request.kind();
        if (kind == null) {
            v.add("kind", "is required, one of " + Arrays.toString(RunKind.values()));
            throw v.exception();
        }
        String baseName = baseName(kind);
        String otherName = kind == RunKind.BENCHMARK ? "training" : "benchmark";
        Map<String, ?> base = kind == RunKind.BENCHMARK ? request.benchmark() : request.training();
        Map<String, ?> other = kind == RunKind.BENCHMARK ? request.training() : request.benchmark();
        if (other != null) v.add(otherName, "must be absent for a " + kind + " experiment");
        List<?> variants = request.variants();
        if (variants == null || variants.isEmpty()) v.add("variants", "at least one variant is required");

        Map<String, List<?>> axes = axes(kind, request.grid(), v);
        long runs = variants == null ? 0 : variants.size();
        for (List<?> values : axes.values()) runs = saturatingMultiply(runs, values.size());
        if (runs > maxRuns) {
            v.add("grid", "the sweep expands to " + describeCount(variants, axes) + " = " + runs
                    + " runs, at most " + maxRuns + " are allowed in one experiment");
        }
        if (!v.isEmpty()) throw v.exception();

        List<AttentionConfig> configs = new ArrayList<>();
        for (int i = 0; i < variants.size(); i++) {
            try {
                configs.add(RecordBinder.bindVariant(variants.get(i), "variants[" + i + "]"));
            } catch (InvalidConfigException e) {
                v.add(e);
            }
        }
        Map<String, ?> baseValues = base == null ? Map.of() : base;
        List<GridPoint> points = gridPoints(kind, baseValues, axes, baseName, v);
        overriddenBaseValues(kind, baseValues, axes, points, baseName, v);
        if (!v.isEmpty()) throw v.exception();

        List<SweepPoint> out = new ArrayList<>(configs.size() * points.size());
        for (int vi = 0; vi < configs.size(); vi++) {
            for (GridPoint p : points) {
                try {
                    RunSpec spec = new RunSpec(kind, configs.get(vi), p.seed,
                            kind == RunKind.BENCHMARK ? (BenchmarkSpec) p.spec : null,
                            kind == RunKind.TRAINING ? (TrainingSpec) p.spec : null);
                    checkModel(spec);
                    out.add(new SweepPoint(out.size(), vi, p.values, spec));
                } catch (InvalidConfigException e) {
                    v.add(combinationFault(e, vi, p.at, baseName));
                }
            }
        }
        if (!v.isEmpty()) throw v.exception();
        return out;
    }

    private record GridPoint(Map<String, Object> values, Map<String, Integer> at, long seed, Record spec) {}

    private static Map<String, List<?>> axes(RunKind kind, Map<String, ?> grid, Violations v) {
        Map<String, List<?>> axes = new LinkedHashMap<>();
        if (grid == null) return axes;
        List<String> allowed = gridKeys(kind);
        for (Map.Entry<String, ?> e : grid.entrySet()) {
            String path = "grid." + e.getKey();
            if (!allowed.contains(e.getKey())) {
                v.add(path, "unknown grid key for a " + kind + " sweep, expected one of " + allowed);
            } else if (!(e.getValue() instanceof List<?> values)) {
                v.add(path, "must be an array of values, got " + RecordBinder.describe(e.getValue()));
            } else if (values.isEmpty()) {
                v.add(path, "must list at least one value");
            } else {
                Set<Object> seen = new HashSet<>();
                for (int i = 0; i < values.size(); i++) {
                    if (values.get(i) == null) v.add(path + "[" + i + "]", "must not be null");
                    else if (!seen.add(normalized(values.get(i))))
                        v.add(path + "[" + i + "]", "repeats the value " + RecordBinder.describe(values.get(i)) + ": each grid value must be distinct");
                }
                axes.put(e.getKey(), values);
            }
        }
        return axes;
    }

    /** Parsed JSON numbers 128 and 128.0 are the same grid value. */
    private static Object normalized(Object value) {
        return value instanceof Number n ? new java.math.BigDecimal(n.toString()).stripTrailingZeros() : value;
    }

    private static List<GridPoint> gridPoints(RunKind kind, Map<String, ?> base, Map<String, List<?>> axes,
                                              String baseName, Violations v) {
        List<String> keys = new ArrayList<>(axes.keySet());
        int[] index = new int[keys.size()];
        List<GridPoint> points = new ArrayList<>();
        Class<? extends Record> type = baseType(kind);
        do {
            Map<String, Object> values = new LinkedHashMap<>();
            Map<String, Object> merged = new LinkedHashMap<>(base);
            Map<String, Integer> at = new LinkedHashMap<>();
            for (int k = 0; k < keys.size(); k++) {
                Object value = axes.get(keys.get(k)).get(index[k]);
                values.put(keys.get(k), value);
                at.put(keys.get(k), index[k]);
                if (!keys.get(k).equals(SEED)) merged.put(keys.get(k), value);
            }
            long seed = DEFAULT_SEED;
            try {
                if (values.containsKey(SEED))
                    seed = (long) RecordBinder.convert(values.get(SEED), long.class, long.class, "grid.seed[" + at.get(SEED) + "]");
                Record spec = RecordBinder.bindRecord(type, merged, "");
                points.add(new GridPoint(values, at, seed, spec));
            } catch (InvalidConfigException e) {
                for (InvalidConfigException f : e.all()) v.add(f.field().startsWith("grid.") ? f : relocate(f, at, baseName));
            }
        } while (advance(index, keys, axes) && !v.full());
        return points;
    }

    /**
     * The base values that a grid key replaces at every point: no run holds them, so no point judged them, yet a
     * request that states an invalid one is refused like any other (a base {@code seqLen: -5} under a grid over
     * {@code seqLen}). Each is judged by binding it in place of the grid's value into the first point that bound (every
     * other value as that run has it; the first point's values when none bound), and only a fault at its own field
     * counts, named at the base ({@code benchmark.seqLen}) with the message the field's rule gives. A null base value
     * states no value and is passed over, as is a base value when the grid sweeps no field (nothing is replaced).
     */
    private static void overriddenBaseValues(RunKind kind, Map<String, ?> base, Map<String, List<?>> axes,
                                             List<GridPoint> points, String baseName, Violations v) {
        List<String> overridden = axes.keySet().stream().filter(k -> !k.equals(SEED) && base.get(k) != null).toList();
        if (overridden.isEmpty() || v.full()) return;
        Map<String, Object> context = new LinkedHashMap<>(base);
        if (points.isEmpty()) axes.forEach((k, values) -> { if (!k.equals(SEED)) context.put(k, values.getFirst()); });
        else points.getFirst().values.forEach((k, value) -> { if (!k.equals(SEED)) context.put(k, value); });
        Class<? extends Record> type = baseType(kind);
        for (String key : overridden) {
            Map<String, Object> probe = new LinkedHashMap<>(context);
            probe.put(key, base.get(key));
            try {
                RecordBinder.bindRecord(type, probe, "");
            } catch (InvalidConfigException e) {
                for (InvalidConfigException f : e.all()) {
                    int cut = indexOfAny(f.field());
                    if ((cut < 0 ? f.field() : f.field().substring(0, cut)).equals(key)) v.add(f.under(baseName));
                }
            }
        }
    }

    /**
     * What the engine's language model refuses of a variant and a training spec that are each valid alone, checked
     * here so the api refuses it at submission (the engine's ModelConfig keeps its own check): an OVQ model with
     * swaWindow > 0 alternates SWA (even blocks) and OVQ (odd blocks), so one block would hold no OVQ layer.
     */
    private static void checkModel(RunSpec spec) {
        if (spec.training() != null && spec.variant() instanceof OvqConfig o && o.ovq().swaWindow() > 0
                && spec.training().nLayers() < 2)
            throw new InvalidConfigException("training.nLayers", "an OVQ model with swaWindow " + o.ovq().swaWindow()
                    + " alternates SWA and OVQ layers and needs nLayers >= 2, got " + spec.training().nLayers()
                    + "; set the variant's ovq.swaWindow to 0 for OVQ layers only");
    }

    /**
     * A fault of a variant with a base spec that are each valid alone (RunSpec's cross-checks, fields like
     * {@code training.nLayers}): placed like a base spec fault, at the grid entry that set the field if one did,
     * and naming the variant in the message.
     */
    private static InvalidConfigException combinationFault(InvalidConfigException e, int variant, Map<String, Integer> at,
                                                           String baseName) {
        String reason = e.reason() + " (with variants[" + variant + "])";
        String prefix = baseName + ".";
        if (!e.field().startsWith(prefix)) return new InvalidConfigException(e.field(), reason);
        return relocate(new InvalidConfigException(e.field().substring(prefix.length()), reason), at, baseName);
    }

    /** A spec fault at a field the grid set is the grid entry's fault; otherwise the base spec's. */
    private static InvalidConfigException relocate(InvalidConfigException e, Map<String, Integer> at, String baseName) {
        String field = e.field();
        int cut = indexOfAny(field);
        String head = cut < 0 ? field : field.substring(0, cut);
        String tail = cut < 0 ? "" : field.substring(cut);
        if (at.containsKey(head)) return new InvalidConfigException("grid." + head + "[" + at.get(head) + "]" + tail, e.reason());
        return e.under(baseName);
    }

    private static int indexOfAny(String field) {
        int dot = field.indexOf('.'), bracket = field.indexOf('[');
        if (dot < 0) return bracket;
        if (bracket < 0) return dot;
        return Math.min(dot, bracket);
    }

    private static boolean advance(int[] index, List<String> keys, Map<String, List<?>> axes) {
        for (int k = index.length - 1; k >= 0; k--) {
            if (++index[k] < axes.get(keys.get(k)).size()) return true;
            index[k] = 0;
        }
        return false;
    }

    private static String describeCount(List<?> variants, Map<String, List<?>> axes) {
        StringBuilder sb = new StringBuilder((variants == null ? 0 : variants.size()) + " variants");
        axes.forEach((k, values) -> sb.append(" x ").append(values.size()).append(' ').append(k));
        return sb.toString();
    }

    private static long saturatingMultiply(long a, long b) {
        long r = a * b;
        return (a != 0 && (r / a != b || r < 0)) ? Long.MAX_VALUE : r;
    }

    private static String baseName(RunKind kind) {
        return kind == RunKind.BENCHMARK ? "benchmark" : "training";
    }

    private static Class<? extends Record> baseType(RunKind kind) {
        return kind == RunKind.BENCHMARK ? BenchmarkSpec.class : TrainingSpec.class;
    }

    /** Faults in request order, each path+message once (a base fault repeats at every grid point). */
    private static final class Violations {
        private final Set<String> seen = new HashSet<>();
        private final List<InvalidConfigException> list = new ArrayList<>();

        void add(String field, String message) {
            add(new InvalidConfigException(field, message));
        }

        void add(InvalidConfigException e) {
            for (InvalidConfigException f : e.all()) {
                if (!full() && seen.add(f.getMessage())) list.add(f);
            }
        }

        boolean full() {
            return list.size() >= MAX_VIOLATIONS;
        }

        boolean isEmpty() {
            return list.isEmpty();
        }

        InvalidSweepException exception() {
            return new InvalidSweepException(list);
        }
    }
}
