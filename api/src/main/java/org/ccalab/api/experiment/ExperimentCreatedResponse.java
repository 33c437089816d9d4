package org.ccalab.api.experiment;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.ccalab.api.system.Links;

/** The answer to {@code POST /api/experiments}: the ids of everything created, with links to follow. */
public record ExperimentCreatedResponse(UUID id, String name, String kind, String status, int runCount,
                                        List<RunRef> runs, @JsonProperty("_links") Map<String, Links.Href> links) {

    /** {@code grid}: the run's point of the sweep, absent when the submission had no grid (as in run lists). */
    public record RunRef(UUID id, int ordinal, String family, String status, String configHash,
                         @JsonInclude(JsonInclude.Include.NON_NULL) Map<String, Object> grid, @JsonProperty("_links") Map<String, Links.Href> links) {}

    static ExperimentCreatedResponse of(CreateExperimentRequest request, ExperimentService.Created created) {
        List<RunRef> runs = created.runs().stream().map(r -> new RunRef(r.id(), r.ordinal(), r.family(), "QUEUED",
                r.configHash(), request.grid() == null ? null : r.grid(), Links.of("self", "/api/runs/" + r.id()))).toList();
        return new ExperimentCreatedResponse(created.id(), request.name().strip(), request.kind().name(), "QUEUED",
                runs.size(), runs, Links.of("self", "/api/experiments/" + created.id(),
                        "runs", "/api/runs?experimentId=" + created.id()));
    }
}
