package org.ccalab.api.experiment;

import java.net.URI;
import java.util.List;
import java.util.UUID;
import org.ccalab.api.system.ApiException;
import org.ccalab.api.system.ApiProperties;
import org.ccalab.api.system.Page;
import org.ccalab.api.system.PageQuery;
import org.ccalab.api.system.Sql;
import org.ccalab.common.run.RunKind;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import tools.jackson.databind.json.JsonMapper;

@RestController
@RequestMapping("/api/experiments")
class ExperimentController {
    private final ExperimentService service;
    private final ExperimentRepository experiments;
    private final ApiProperties properties;
    private final JsonMapper json;

    ExperimentController(ExperimentService service, ExperimentRepository experiments, ApiProperties properties, JsonMapper json) {
        this.service = service;
        this.experiments = experiments;
        this.properties = properties;
        this.json = json;
    }

    /**
     * Not {@code @Valid}: bean validation would answer alone, before the sweep is looked at; the service checks the
     * plain fields and the sweep together and reports every fault in one problem.
     */
    @PostMapping
    ResponseEntity<ExperimentCreatedResponse> create(@RequestBody CreateExperimentRequest request) {
        ExperimentService.Created created = service.create(request);
        return ResponseEntity.created(URI.create("/api/experiments/" + created.id()))
                .body(ExperimentCreatedResponse.of(request, created));
    }

    @GetMapping
    Page<ExperimentView> list(@RequestParam(required = false) String kind, @RequestParam(required = false) String status,
                              @RequestParam(required = false) String q, @RequestParam(required = false) Integer page,
                              @RequestParam(required = false) Integer size, @RequestParam(required = false) String sort) {
        PageQuery paging = PageQuery.of(page, size, sort, ExperimentRepository.SORTABLE, "createdAt,desc", "e.id",
                20, properties.limits().maxPageSize());
        List<String> kinds = PageQuery.enumFilter("kind", kind, RunKind.class);
        List<String> statuses = PageQuery.enumFilter("status", status, ExperimentStatus.class);
        Sql filter = new Sql().and("e.kind IN (:kinds)", "kinds", kinds)
                .and("e.status IN (:statuses)", "statuses", statuses)
                .and("lower(e.name) LIKE :q", "q", Sql.contains(q));
        List<ExperimentView> items = experiments.list(filter, paging).stream().map(e -> ExperimentView.of(e, null)).toList();
        return paging.page(items, experiments.count(filter));
    }

    @GetMapping("/{id}")
    ExperimentView get(@PathVariable UUID id) {
        ExperimentRow e = experiments.find(id).orElseThrow(() -> ApiException.notFound("experiment", id));
        return ExperimentView.of(e, json.readTree(e.requestJson()));
    }

    @PostMapping("/{id}/cancel")
    @org.springframework.web.bind.annotation.ResponseStatus(HttpStatus.ACCEPTED)
    ExperimentService.CancelResult cancel(@PathVariable UUID id) {
        return service.cancel(id);
    }

    @PostMapping("/{id}/rerun-failed")
    @org.springframework.web.bind.annotation.ResponseStatus(HttpStatus.ACCEPTED)
    ExperimentService.RerunResult rerunFailed(@PathVariable UUID id) {
        return service.rerunFailed(id);
    }
}
