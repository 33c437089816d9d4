package org.ccalab.api.experiment;

import jakarta.validation.Validator;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.UUID;
import org.ccalab.api.live.ChangeNotifier;
import org.ccalab.api.system.ApiException;
import org.ccalab.api.system.ApiProperties;
import org.ccalab.api.system.CanonicalJson;
import org.ccalab.api.system.FieldError;
import org.ccalab.api.system.RequestFaults;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.sweep.InvalidSweepException;
import org.ccalab.common.sweep.SweepExpander;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.sweep.SweepPoint;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import tools.jackson.databind.json.JsonMapper;

/**
 * Creating an experiment (validate everything, expand, then write the experiment and all its runs in one
 * transaction, so a rejected request stores nothing and an accepted one is never half-stored), and the
 * two state changes the api may make: requesting cancellation and re-queueing failed runs.
 */
@Service
public class ExperimentService {
    private final ExperimentRepository experiments;
    private final ChangeNotifier notifier;
    private final CanonicalJson canonical;
    private final JsonMapper json;
    private final SweepExpander expander;
    private final ApiProperties properties;

    private final Validator validator;

    ExperimentService(ExperimentRepository experiments, ChangeNotifier notifier, CanonicalJson canonical,
                      JsonMapper json, ApiProperties properties, Validator validator) {
        this.validator = validator;
        this.experiments = experiments;
        this.notifier = notifier;
        this.canonical = canonical;
        this.json = json;
        this.properties = properties;
        this.expander = new SweepExpander(properties.limits().maxRunsPerExperiment());
    }

    public record Created(UUID id, List<CreatedRun> runs) {}

    public record CreatedRun(UUID id, int ordinal, String family, String configHash, java.util.Map<String, Object> grid) {}

    @Transactional
    public Created create(CreateExperimentRequest request) {
        List<SweepPoint> points = validate(request);
        int priority = request.priority() == null ? 0 : request.priority();
        int maxAttempts = request.maxAttempts() == null ? properties.defaultMaxAttempts() : request.maxAttempts();
        UUID experimentId = UUID.randomUUID();
        List<ExperimentRepository.NewRun> rows = new ArrayList<>(points.size());
        List<CreatedRun> created = new ArrayList<>(points.size());
        for (SweepPoint p : points) {
            RunSpec spec = p.spec();
            String specJson = canonical.write(spec);
            String hash = canonical.sha256(specJson);
            UUID runId = UUID.randomUUID();
            rows.add(new ExperimentRepository.NewRun(runId, p.ordinal(), spec.kind().name(), spec.variant().family(),
                    canonical.write(spec.variant()), specJson, hash, spec.seed(), priority, maxAttempts));
            created.add(new CreatedRun(runId, p.ordinal(), spec.variant().family(), hash, p.gridValues()));
        }
        experiments.insertExperiment(experimentId, request.name().strip(), request.description(), request.kind().name(),
                priority, json.writeValueAsString(stored(request)));
        experiments.insertRuns(experimentId, rows);
        notifier.queueChanged();
        return new Created(experimentId, created);
    }

    private static final List<String> FIELDS = List.of("name", "description", "kind", "priority", "maxAttempts", "variants",
            "grid", "benchmark", "training");

    /**
     * Every fault of the request at once, before anything is written: unknown properties, bean validation of the plain
     * fields, and the sweep's faults (variants, grid, base spec), each with its field path; one problem for all.
     * A sweep fault at a field bean validation already named (a missing kind, no variants) is not repeated.
     */
    List<SweepPoint> validate(CreateExperimentRequest request) {
        List<FieldError> errors = RequestFaults.of(request.unknown().keySet(), FIELDS, validator.validate(request));
        List<SweepPoint> points = null;
        if (request.kind() != null) {
            try {
                points = expander.expand(request.sweep());
            } catch (InvalidSweepException e) {
                Set<String> named = new HashSet<>();
                errors.forEach(f -> named.add(f.field()));  // the unknown properties are never sweep paths
                for (InvalidConfigException v : e.violations()) {
                    if (!named.contains(v.field())) errors.add(new FieldError(v.field(), v.reason()));
                }
            }
        }
        if (!errors.isEmpty()) throw ApiException.invalid(errors);
        return points;
    }

    /** The request as received, without the (empty) bag of unknown properties. */
    private static java.util.Map<String, Object> stored(CreateExperimentRequest r) {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("name", r.name());
        if (r.description() != null) m.put("description", r.description());
        m.put("kind", r.kind());
        if (r.priority() != null) m.put("priority", r.priority());
        if (r.maxAttempts() != null) m.put("maxAttempts", r.maxAttempts());
        m.put("variants", r.variants());
        if (r.grid() != null) m.put("grid", r.grid());
        if (r.benchmark() != null) m.put("benchmark", r.benchmark());
        if (r.training() != null) m.put("training", r.training());
        return m;
    }

    public record CancelResult(UUID id, String status, java.time.Instant cancelRequestedAt, List<UUID> runsCancelled) {}

    @Transactional
    public CancelResult cancel(UUID id) {
        ExperimentRow e = experiments.findForUpdate(id).orElseThrow(() -> ApiException.notFound("experiment", id));
        RunCounts c = e.runs();
        long live = c.queued() + c.dispatched() + c.running() + c.retrying();
        if (live == 0) {
            throw ApiException.conflict("experiment " + id + " has no run left to cancel (status " + e.status() + ")");
        }
        List<UUID> runs = experiments.requestCancel(id);
        notifier.runsChanged(runs);
        notifier.queueChanged();
        ExperimentRow after = experiments.find(id).orElseThrow();
        return new CancelResult(id, after.status(), after.cancelRequestedAt(), runs);
    }

    public record RerunResult(UUID id, String status, List<UUID> runs) {}

    @Transactional
    public RerunResult rerunFailed(UUID id) {
        ExperimentRow e = experiments.findForUpdate(id).orElseThrow(() -> ApiException.notFound("experiment", id));
        if (e.runs().failed() == 0) throw ApiException.conflict("experiment " + id + " has no FAILED runs to re-run");
        int budget = budgetOf(e);
        List<UUID> runs = experiments.requeueFailed(id, budget);
        if (runs.isEmpty()) throw ApiException.conflict("the failed runs of experiment " + id + " used all 100 attempts");
        experiments.clearCancel(id);
        notifier.runsChanged(runs);
        notifier.queueChanged();
        return new RerunResult(id, "QUEUED", runs);
    }

    private int budgetOf(ExperimentRow e) {
        var node = json.readTree(e.requestJson()).get("maxAttempts");
        return node != null && node.isInt() ? node.intValue() : properties.defaultMaxAttempts();
    }
}
