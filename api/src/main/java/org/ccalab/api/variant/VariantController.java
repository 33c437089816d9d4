package org.ccalab.api.variant;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ccalab.api.system.ApiProperties;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.sweep.SweepExpander;
import org.ccalab.common.sweep.VariantBinder;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.FamilyDescriptor;
import org.ccalab.common.variant.Preset;
import org.ccalab.common.variant.VariantCatalog;
import org.ccalab.common.variant.cost.CostEstimate;
import org.ccalab.common.variant.cost.CostModel;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/** The variant catalog (families, parameters, presets) and the exact cost model, for the submit form. */
@RestController
@RequestMapping("/api/variants")
class VariantController {
    private final ApiProperties properties;

    VariantController(ApiProperties properties) {
        this.properties = properties;
    }

    record Catalog(List<FamilyDescriptor> families, List<String> kernelBenchmarkSet, Map<String, List<String>> gridKeys,
                   int maxRunsPerExperiment) {}

    @GetMapping
    Catalog catalog() {
        Map<String, List<String>> gridKeys = new LinkedHashMap<>();
        for (RunKind k : RunKind.values()) gridKeys.put(k.name(), SweepExpander.gridKeys(k));
        return new Catalog(VariantCatalog.families(), VariantCatalog.kernelBenchmarkSet().stream().map(Preset::name).toList(),
                gridKeys, properties.limits().maxRunsPerExperiment());
    }

    /** {@code variant} stays loose JSON so that its faults are named with their path ({@code variant.nKvHeads}). */
    record CostRequest(@NotNull Object variant, @NotNull @Min(1) @Max(1 << 24) Integer seqLen,
                       @Pattern(regexp = "bf16|fp16|fp32|fp64", message = "must be one of bf16, fp16, fp32, fp64") String dtype) {}

    record CostResponse(AttentionConfig variant, String dtype, CostEstimate cost, double decodeArithmeticIntensity) {}

    @PostMapping("/cost")
    CostResponse cost(@Valid @RequestBody CostRequest request) {
        AttentionConfig config = VariantBinder.bind(request.variant(), "variant");
        String dtype = request.dtype() == null ? "bf16" : request.dtype();
        int bytes = switch (dtype) {
            case "fp32" -> 4;
            case "fp64" -> 8;
            default -> 2;
        };
        CostEstimate cost = CostModel.estimate(config, request.seqLen(), bytes);
        double intensity = cost.decodeArithmeticIntensity();
        return new CostResponse(config, dtype, cost, Double.isFinite(intensity) ? intensity : 0);
    }
}
