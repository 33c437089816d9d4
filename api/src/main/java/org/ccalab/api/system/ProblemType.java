package org.ccalab.api.system;

import java.net.URI;
import org.springframework.http.HttpStatus;

/** One stable {@code type} URI per kind of error, so clients branch on it rather than on messages. */
public enum ProblemType {
    MALFORMED_JSON(HttpStatus.BAD_REQUEST, "Malformed JSON body"),
    VALIDATION_FAILED(HttpStatus.BAD_REQUEST, "Request failed validation"),
    UNKNOWN_VARIANT_FAMILY(HttpStatus.BAD_REQUEST, "Unknown variant family"),
    GRID_TOO_LARGE(HttpStatus.BAD_REQUEST, "Sweep expands to too many runs"),
    BAD_PARAMETER(HttpStatus.BAD_REQUEST, "Invalid request parameter"),
    BODY_TOO_LARGE(HttpStatus.CONTENT_TOO_LARGE, "Request body too large"),
    NOT_FOUND(HttpStatus.NOT_FOUND, "Resource not found"),
    METHOD_NOT_ALLOWED(HttpStatus.METHOD_NOT_ALLOWED, "Method not allowed"),
    NOT_ACCEPTABLE(HttpStatus.NOT_ACCEPTABLE, "Not acceptable"),
    UNSUPPORTED_MEDIA_TYPE(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"),
    STATE_CONFLICT(HttpStatus.CONFLICT, "Conflict with the resource's current state"),
    DATA_CONFLICT(HttpStatus.CONFLICT, "Conflict with stored data"),
    SERVICE_UNAVAILABLE(HttpStatus.SERVICE_UNAVAILABLE, "Service unavailable"),
    INTERNAL_ERROR(HttpStatus.INTERNAL_SERVER_ERROR, "Internal error");

    private static final String BASE = "urn:ccalab:problem:";

    private final HttpStatus status;
    private final String title;

    ProblemType(HttpStatus status, String title) {
        this.status = status;
        this.title = title;
    }

    public URI uri() {
        return URI.create(BASE + name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
    }

    public HttpStatus status() {
        return status;
    }

    public String title() {
        return title;
    }

    /** The type for a status Spring raised without one of ours (e.g. 405 from the dispatcher). */
    static ProblemType forStatus(int status) {
        return switch (status) {
            case 400 -> BAD_PARAMETER;
            case 404 -> NOT_FOUND;
            case 405 -> METHOD_NOT_ALLOWED;
            case 406 -> NOT_ACCEPTABLE;
            case 409 -> STATE_CONFLICT;
            case 413 -> BODY_TOO_LARGE;
            case 415 -> UNSUPPORTED_MEDIA_TYPE;
            case 503 -> SERVICE_UNAVAILABLE;
            default -> INTERNAL_ERROR;
        };
    }
}
