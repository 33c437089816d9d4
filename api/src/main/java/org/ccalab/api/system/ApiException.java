package org.ccalab.api.system;

import java.util.List;

/** An error the api answers deliberately, rendered as an RFC 9457 problem by {@link ProblemAdvice}. */
public class ApiException extends RuntimeException {
    private final ProblemType type;
    private final List<FieldError> errors;

    public ApiException(ProblemType type, String detail, List<FieldError> errors) {
        super(detail);
        this.type = type;
        this.errors = List.copyOf(errors);
    }

    public ApiException(ProblemType type, String detail) {
        this(type, detail, List.of());
    }

    public static ApiException notFound(String resource, Object id) {
        return new ApiException(ProblemType.NOT_FOUND, resource + " " + id + " does not exist");
    }

    public static ApiException conflict(String detail) {
        return new ApiException(ProblemType.STATE_CONFLICT, detail);
    }

    /** A bad query or path parameter, named as the client wrote it. */
    public static ApiException badParameter(String name, String message) {
        return new ApiException(ProblemType.BAD_PARAMETER, name + ": " + message, List.of(new FieldError(name, message)));
    }

    /** Several bad query or path parameters in one problem. */
    public static ApiException badParameters(List<FieldError> errors) {
        return new ApiException(ProblemType.BAD_PARAMETER, ProblemAdvice.summary(errors), errors);
    }

    /**
     * Every fault of a request body in one problem: {@code grid-too-large} when the grid is at fault,
     * {@code unknown-variant-family} when only families are, else {@code validation-failed}; {@code errors} not empty.
     */
    public static ApiException invalid(List<FieldError> errors) {
        ProblemType type = ProblemType.VALIDATION_FAILED;
        if (errors.stream().anyMatch(x -> x.field().equals("grid"))) type = ProblemType.GRID_TOO_LARGE;
        else if (errors.stream().allMatch(x -> x.field().endsWith(".family") || x.field().equals("family")))
            type = ProblemType.UNKNOWN_VARIANT_FAMILY;
        return new ApiException(type, ProblemAdvice.summary(errors), errors);
    }

    public ProblemType type() {
        return type;
    }

    public List<FieldError> errors() {
        return errors;
    }
}
