package org.ccalab.api.experiment;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import org.ccalab.api.system.Links;
import tools.jackson.databind.JsonNode;

/** An experiment as the api shows it; {@code request} (the submission as received) only on the detail. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ExperimentView(UUID id, String name, String description, String kind, String status, int priority,
                             Instant createdAt, Instant updatedAt, Instant cancelRequestedAt, long runCount,
                             RunCounts runCounts, JsonNode request,
                             @JsonProperty("_links") Map<String, Links.Href> links) {

    static ExperimentView of(ExperimentRow e, JsonNode request) {
        String self = "/api/experiments/" + e.id();
        return new ExperimentView(e.id(), e.name(), e.description(), e.kind(), e.status(), e.priority(), e.createdAt(),
                e.updatedAt(), e.cancelRequestedAt(), e.runs().total(), e.runs(), request,
                Links.of("self", self, "runs", "/api/runs?experimentId=" + e.id(), "cancel", self + "/cancel",
                        "rerunFailed", self + "/rerun-failed", "compare", "/api/compare?experiments=" + e.id()));
    }
}
