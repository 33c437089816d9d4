package org.ccalab.api.variant;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.Validator;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ccalab.api.system.ApiException;
import org.ccalab.api.system.ApiProperties;
import org.ccalab.api.system.FieldError;
import org.ccalab.api.system.RequestFaults;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.sweep.SweepExpander;
import org.ccalab.common.sweep.VariantBinder;
import org.ccalab.common.validation.InvalidConfigException;
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
    private final Validator validator;

    VariantController(ApiProperties properties, Validator validator) {
        this.properties = properties;
        this.validator = validator;
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

    /**
     * {@code variant} stays loose JSON so that its faults are named with their path ({@code variant.nKvHeads}).
     * Unknown top-level properties are collected, not dropped, and refused (a misspelt {@code dtype} must not
     * silently price bf16), as {@code POST /api/experiments} does; duplicate keys and coerced scalars are refused by
     * the api's strict mapper.
     */
    record CostRequest(@NotNull Object variant, @NotNull @Min(1) @Max(1 << 24) Integer seqLen,
                       @Pattern(regexp = "bf16|fp16|fp32|fp64", message = "must be one of bf16, fp16, fp32, fp64") String dtype,
                       @JsonAnySetter @Schema(hidden = true) Map<String, Object> unknown) {
        CostRequest {
            unknown = unknown == null ? new LinkedHashMap<>() : unknown;
        }
    }

    private static final List<String> COST_FIELDS = List.of("variant", "seqLen", "dtype");

    record CostResponse(AttentionConfig variant, String dtype, CostEstimate cost, double decodeArithmeticIntensity) {}

    /**
     * Not {@code @Valid}: bean validation would answer alone, before the variant is bound; every fault (unknown
     * properties, the plain fields, the variant's own) is reported in one problem, as experiments are.
     */
    @PostMapping("/cost")
    CostResponse cost(@RequestBody CostRequest request) {
        List<FieldError> errors = RequestFaults.of(request.unknown().keySet(), COST_FIELDS, validator.validate(request));
        AttentionConfig config = null;
        if (request.variant() != null) {
            try {
                config = VariantBinder.bind(request.variant(), "variant");
            } catch (InvalidConfigException e) {
                e.all().forEach(f -> errors.add(new FieldError(f.field(), f.reason())));
            }
        }
        if (!errors.isEmpty()) throw ApiException.invalid(errors);
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
