package org.ccalab.api.experiment;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonFormat;
import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotEmpty;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Size;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.sweep.SweepRequest;

/**
 * {@code POST /api/experiments}. The sweep parts stay loose JSON (variants, grid, base spec) because
 * {@link org.ccalab.common.sweep.SweepExpander} binds them and names the path of every fault; the plain
 * fields are checked here. Unknown top-level properties are collected, not dropped, and refused: a
 * misspelt {@code grid} must not silently run a one-point sweep. {@code kind} is read case-insensitively, as the
 * sweep reads variant families and enum values ({@code "mha"}/{@code "MHA"}, {@code "forward"}/{@code "FORWARD"}),
 * and stored in upper case.
 */
public record CreateExperimentRequest(
        @NotBlank @Size(max = 200, message = "must be 1..200 characters") String name,
        @Size(max = 4000, message = "must be at most 4000 characters") String description,
        @NotNull @JsonFormat(with = JsonFormat.Feature.ACCEPT_CASE_INSENSITIVE_VALUES) RunKind kind,
        @Min(-1000) @Max(1000) Integer priority,
        @Min(1) @Max(100) Integer maxAttempts,
        @NotEmpty @Size(max = 1000, message = "must list at most 1000 variants") List<Object> variants,
        Map<String, Object> grid,
        Map<String, Object> benchmark,
        Map<String, Object> training,
        @JsonAnySetter @Schema(hidden = true) Map<String, Object> unknown) {

    public CreateExperimentRequest {
        unknown = unknown == null ? new LinkedHashMap<>() : unknown;
    }

    SweepRequest sweep() {
        return new SweepRequest(kind, variants, grid, benchmark, training);
    }
}
