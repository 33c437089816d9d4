package org.ccalab.api.run;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.ccalab.api.system.ApiException;
import org.ccalab.api.system.ApiProperties;
import org.ccalab.api.system.FieldError;
import org.ccalab.api.system.Page;
import org.ccalab.api.system.PageQuery;
import org.ccalab.api.system.Sql;
import org.ccalab.common.event.EventType;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.variant.FamilyDescriptor;
import org.ccalab.common.variant.VariantCatalog;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

@RestController
@RequestMapping("/api/runs")
class RunController {
    private final RunRepository runs;
    private final RunService service;
    private final ApiProperties properties;
    private final JsonMapper json;

    RunController(RunRepository runs, RunService service, ApiProperties properties, JsonMapper json) {
        this.runs = runs;
        this.service = service;
        this.properties = properties;
        this.json = json;
    }

    record MetricsResponse(UUID runId, int maxPoints, List<MetricSeriesView> series) {}

    record CellsResponse(UUID runId, List<CellView> cells) {}

    @GetMapping
    Page<RunView> list(@RequestParam(required = false) UUID experimentId, @RequestParam(required = false) String status,
                       @RequestParam(required = false) String family, @RequestParam(required = false) String kind,
                       @RequestParam(required = false) String failureClass, @RequestParam(required = false) String q,
                       @RequestParam(required = false) Integer page, @RequestParam(required = false) Integer size,
                       @RequestParam(required = false) String sort) {
        PageQuery paging = PageQuery.of(page, size, sort, RunRepository.SORTABLE, "createdAt,desc", "r.ordinal, r.id",
                50, properties.limits().maxPageSize());
        Sql filter = new Sql().and("r.experiment_id = :experimentId", "experimentId", experimentId)
                .and("r.status IN (:statuses)", "statuses", PageQuery.enumFilter("status", status, RunStatus.class))
                .and("r.family IN (:families)", "families", families(family))
                .and("r.kind IN (:kinds)", "kinds", PageQuery.enumFilter("kind", kind, RunKind.class))
                .and("r.failure_class IN (:failureClasses)", "failureClasses",
                        PageQuery.enumFilter("failureClass", failureClass, FailureClass.class))
                .and("(lower(e.name) LIKE :q OR r.id::text LIKE :q OR r.config_hash LIKE :q OR r.family LIKE :q)",
                        "q", Sql.contains(q));
        List<RunView> items = runs.list(filter, paging).stream()
                .map(r -> RunView.summary(r, json.readTree(r.variantJson()), json.readTree(r.specJson()), grid(r))).toList();
        return paging.page(items, runs.count(filter));
    }

    @GetMapping("/{id}")
    RunView get(@PathVariable UUID id) {
        RunRow r = runs.find(id).orElseThrow(() -> ApiException.notFound("run", id));
        return RunView.of(r, json.readTree(r.variantJson()), json.readTree(r.specJson()), grid(r), runs.environments(id),
                runs.checkpoints(id), runs.metricSeries(id), runs.cellCount(id));
    }

    /**
     * Series of a run, each downsampled server-side to at most {@code maxPoints}. {@code name} may repeat or
     * list names comma-separated; absent, every series of the run is returned.
     */
    @GetMapping("/{id}/metrics")
    MetricsResponse metrics(@PathVariable UUID id, @RequestParam(required = false) List<String> name,
                                @RequestParam(required = false) Long fromStep, @RequestParam(required = false) Long toStep,
                                @RequestParam(required = false) Integer maxPoints) {
        requireRun(id);
        int limit = maxPoints == null ? properties.limits().defaultMaxPoints() : maxPoints;
        int ceiling = properties.limits().maxMaxPoints();
        if (limit < 3 || limit > ceiling) throw ApiException.badParameter("maxPoints", "must be in [3, " + ceiling + "], got " + limit);
        long from = fromStep == null ? 0 : fromStep;
        long to = toStep == null ? Long.MAX_VALUE : toStep;
        if (from < 0) throw ApiException.badParameter("fromStep", "must be >= 0, got " + from);
        if (to < from) throw ApiException.badParameter("toStep", "must be >= fromStep (" + from + "), got " + to);
        List<String> names = name == null || name.isEmpty()
                ? runs.metricSeries(id).stream().map(RunView.MetricSeriesInfo::name).toList()
                : name.stream().flatMap(n -> Arrays.stream(n.split(","))).map(String::trim).filter(s -> !s.isEmpty()).distinct().toList();
        if (name != null && !name.isEmpty()) {
            // A series asked for by name that the run does not record is a typo, not an empty series (as /api/compare
            // answers); a run that has recorded nothing yet (queued, starting) answers empty series.
            List<String> known = runs.metricNames(id);
            if (!known.isEmpty()) {
                List<FieldError> unknown = names.stream().filter(n -> !known.contains(n))
                        .map(n -> new FieldError("name", "the run records no series \"" + n + "\"; it records "
                                + String.join(", ", known))).toList();
                if (!unknown.isEmpty()) throw ApiException.badParameters(unknown);
            }
        }
        List<MetricSeriesView> series = names.stream().map(n -> series(id, n, from, to, limit)).toList();
        return new MetricsResponse(id, limit, series);
    }

    /**
     * Up to {@code EXTREMES_FACTOR} x maxPoints points are read as they are and thinned by LTTB here; a
     * longer series is first cut to the extremes of 2 x maxPoints step buckets inside PostgreSQL (never
     * more than 8 x maxPoints rows leave the database), then thinned by LTTB.
     */
    private MetricSeriesView series(UUID id, String name, long from, long to, int limit) {
        RunRepository.SeriesRange range = runs.range(id, name, from, to);
        long total = range.count();
        if (total <= (long) EXTREMES_FACTOR * limit) {
            List<MetricPointView> all = runs.points(id, name, from, to);
            List<MetricPointView> shown = Downsampler.lttb(all, limit);
            boolean thinned = shown.size() < all.size();
            return new MetricSeriesView(name, all.size(), shown.size(), thinned, thinned ? "lttb" : "none", shown);
        }
        List<MetricPointView> shown = Downsampler.lttb(runs.extremes(id, name, range, 2 * limit), limit);
        return new MetricSeriesView(name, total, shown.size(), true, "m4+lttb", shown);
    }

    static final int EXTREMES_FACTOR = 8;

    @GetMapping("/{id}/cells")
    CellsResponse cells(@PathVariable UUID id) {
        requireRun(id);
        return new CellsResponse(id, runs.cells(id, 0));
    }

    @GetMapping("/{id}/events")
    Page<EventView> events(@PathVariable UUID id, @RequestParam(required = false) String type,
                           @RequestParam(required = false) Integer page, @RequestParam(required = false) Integer size) {
        requireRun(id);
        PageQuery paging = PageQuery.of(page, size, null, Map.of("seq", "seq"), "seq,asc", "seq", 100,
                Math.max(1000, properties.limits().maxPageSize()));
        List<String> types = PageQuery.enumFilter("type", type, EventType.class);
        return paging.page(runs.events(id, types, paging), runs.eventCount(id, types));
    }

    @PostMapping("/{id}/cancel")
    @ResponseStatus(HttpStatus.ACCEPTED)
    RunService.CancelResult cancel(@PathVariable UUID id) {
        return service.cancel(id);
    }

    private JsonNode grid(RunRow r) {
        return r.gridJson() == null ? null : json.readTree(r.gridJson());
    }

    private void requireRun(UUID id) {
        if (runs.find(id).isEmpty()) throw ApiException.notFound("run", id);
    }

    private static List<String> families(String value) {
        if (value == null || value.isBlank()) return null;
        List<String> known = VariantCatalog.families().stream().map(FamilyDescriptor::family).toList();
        List<String> out = Arrays.stream(value.split(",")).map(s -> s.trim().toLowerCase(java.util.Locale.ROOT)).toList();
        for (String f : out) {
            if (!known.contains(f)) throw ApiException.badParameter("family", "unknown family \"" + f + "\", expected one of " + known);
        }
        return out;
    }
}
