package org.ccalab.api.comparison;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.ccalab.api.system.ApiException;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

@RestController
class CompareController {
    private final ComparisonService service;

    CompareController(ComparisonService service) {
        this.service = service;
    }

    /**
     * {@code ?runs=a,b&baseline=a} or {@code ?experiments=x,y&baseline=x}; {@code metric} picks the loss
     * series of training runs (default {@code val/loss}); without a baseline, per kind the first MHA run, else
     * the first run ({@link DefaultBaseline}).
     */
    @GetMapping("/api/compare")
    ComparisonService.Comparison compare(@RequestParam(required = false) String runs,
                                         @RequestParam(required = false) String experiments,
                                         @RequestParam(required = false) String baseline,
                                         @RequestParam(required = false, defaultValue = "val/loss") String metric) {
        List<UUID> runIds = ids("runs", runs);
        List<UUID> experimentIds = ids("experiments", experiments);
        if (runIds.isEmpty() == experimentIds.isEmpty()) {
            throw ApiException.badParameter(runIds.isEmpty() ? "runs" : "experiments",
                    "give either runs=<id,...> or experiments=<id,...>, not " + (runIds.isEmpty() ? "neither" : "both"));
        }
        UUID baselineId = baseline == null || baseline.isBlank() ? null : ids("baseline", baseline).getFirst();
        if (metric.isBlank() || metric.length() > 200) throw ApiException.badParameter("metric", "must be 1..200 characters");
        return service.compare(runIds, experimentIds, baselineId, metric);
    }

    private static List<UUID> ids(String name, String value) {
        List<UUID> out = new ArrayList<>();
        if (value == null || value.isBlank()) return out;
        for (String s : value.split(",")) {
            if (s.isBlank()) continue;
            try {
                UUID id = UUID.fromString(s.trim());
                if (!out.contains(id)) out.add(id);
            } catch (IllegalArgumentException e) {
                throw ApiException.badParameter(name, "\"" + s.trim() + "\" is not a UUID");
            }
        }
        if (out.size() > ComparisonService.MAX_RUNS) throw ApiException.badParameter(name, "at most " + ComparisonService.MAX_RUNS + " ids");
        return out;
    }
}
