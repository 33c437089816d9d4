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

    public ProblemType type() {
        return type;
    }

    public List<FieldError> errors() {
        return errors;
    }
}
