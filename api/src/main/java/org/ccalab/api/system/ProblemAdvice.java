package org.ccalab.api.system;

import java.util.ArrayList;
import java.util.List;
import org.ccalab.common.sweep.InvalidSweepException;
import org.ccalab.common.validation.InvalidConfigException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.web.HttpMediaTypeNotSupportedException;
import org.springframework.web.HttpRequestMethodNotSupportedException;
import org.springframework.web.bind.MethodArgumentNotValidException;
import org.springframework.web.bind.MissingServletRequestParameterException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.ServletWebRequest;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.context.request.async.AsyncRequestTimeoutException;
import org.springframework.web.method.annotation.HandlerMethodValidationException;
import org.springframework.beans.TypeMismatchException;
import org.springframework.web.method.annotation.MethodArgumentTypeMismatchException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.exc.InputCoercionException;
import tools.jackson.core.exc.StreamReadException;
import tools.jackson.databind.exc.InvalidFormatException;
import tools.jackson.databind.exc.MismatchedInputException;
import tools.jackson.core.TokenStreamLocation;

/**
 * Every error as an RFC 9457 problem: {@code type} (a stable URI per {@link ProblemType}), {@code title},
 * {@code status}, {@code detail}, and {@code errors: [{field, message}]} naming each field at fault with
 * its path in the request ({@code variants[1].nKvHeads}). Spring's own exceptions pass through
 * {@link #handleExceptionInternal} so they get the same shape.
 */
@RestControllerAdvice
public class ProblemAdvice extends ResponseEntityExceptionHandler {
    private static final Logger log = LoggerFactory.getLogger(ProblemAdvice.class);

    @ExceptionHandler(ApiException.class)
    ResponseEntity<Object> handleApi(ApiException ex) {
        return problem(ex.type(), ex.getMessage(), ex.errors());
    }

    @ExceptionHandler(InvalidSweepException.class)
    ResponseEntity<Object> handleSweep(InvalidSweepException ex) {
        List<FieldError> errors = ex.violations().stream().map(v -> new FieldError(v.field(), v.reason())).toList();
        ProblemType type = ProblemType.VALIDATION_FAILED;
        if (errors.stream().anyMatch(e -> e.field().equals("grid"))) type = ProblemType.GRID_TOO_LARGE;
        else if (errors.stream().allMatch(e -> e.field().endsWith(".family"))) type = ProblemType.UNKNOWN_VARIANT_FAMILY;
        return problem(type, summary(errors), errors);
    }

    @ExceptionHandler(InvalidConfigException.class)
    ResponseEntity<Object> handleInvalidConfig(InvalidConfigException ex) {
        // Every fault the exception carries (a variant with several bad values), not only the first.
        List<FieldError> errors = ex.all().stream().map(f -> new FieldError(f.field(), f.reason())).toList();
        return handleApi(ApiException.invalid(errors));
    }

    @ExceptionHandler(DataIntegrityViolationException.class)
    ResponseEntity<Object> handleIntegrity(DataIntegrityViolationException ex) {
        // Validation runs before any write, so reaching a constraint means a race or a bug: say which.
        log.warn("constraint violated: {}", ex.getMostSpecificCause().getMessage());
        return problem(ProblemType.DATA_CONFLICT, "the change conflicts with stored data: "
                + ex.getMostSpecificCause().getMessage(), List.of());
    }

    @ExceptionHandler(Exception.class)
    ResponseEntity<Object> handleUnexpected(Exception ex) {
        log.error("unhandled error", ex);
        return problem(ProblemType.INTERNAL_ERROR, "an unexpected error occurred; it has been logged", List.of());
    }

    @Override
    protected ResponseEntity<Object> handleMethodArgumentNotValid(MethodArgumentNotValidException ex, HttpHeaders headers,
                                                                  HttpStatusCode status, WebRequest request) {
        List<FieldError> errors = new ArrayList<>();
        ex.getBindingResult().getFieldErrors().forEach(e -> errors.add(new FieldError(e.getField(), e.getDefaultMessage())));
        ex.getBindingResult().getGlobalErrors().forEach(e -> errors.add(new FieldError(e.getObjectName(), e.getDefaultMessage())));
        return problem(ProblemType.VALIDATION_FAILED, summary(errors), errors);
    }

    @Override
    protected ResponseEntity<Object> handleHandlerMethodValidationException(HandlerMethodValidationException ex, HttpHeaders headers,
                                                                            HttpStatusCode status, WebRequest request) {
        List<FieldError> errors = new ArrayList<>();
        ex.getParameterValidationResults().forEach(r -> r.getResolvableErrors().forEach(e ->
                errors.add(new FieldError(r.getMethodParameter().getParameterName(), e.getDefaultMessage()))));
        return problem(ProblemType.BAD_PARAMETER, summary(errors), errors);
    }

    @Override
    protected ResponseEntity<Object> handleMissingServletRequestParameter(MissingServletRequestParameterException ex,
                                                                          HttpHeaders headers, HttpStatusCode status, WebRequest request) {
        List<FieldError> errors = List.of(new FieldError(ex.getParameterName(), "is required"));
        return problem(ProblemType.BAD_PARAMETER, summary(errors), errors);
    }

    @Override
    protected ResponseEntity<Object> handleTypeMismatch(TypeMismatchException ex, HttpHeaders headers, HttpStatusCode status,
                                                        WebRequest request) {
        String name = ex instanceof MethodArgumentTypeMismatchException m ? m.getName() : ex.getPropertyName();
        String expected = ex.getRequiredType() == null ? "a valid value" : describeType(ex.getRequiredType());
        List<FieldError> errors = List.of(new FieldError(name, "must be " + expected + ", got \"" + ex.getValue() + "\""));
        return problem(ProblemType.BAD_PARAMETER, summary(errors), errors);
    }

    @Override
    protected ResponseEntity<Object> handleHttpMessageNotReadable(HttpMessageNotReadableException ex, HttpHeaders headers,
                                                                  HttpStatusCode status, WebRequest request) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t instanceof BodyTooLargeException big) return problem(ProblemType.BODY_TOO_LARGE, big.getMessage(), List.of());
        }
        if (ex.getCause() instanceof JacksonException jackson) {
            String path = jsonPath(jackson.getPath());
            String where = location(jackson.getLocation());
            if (jackson instanceof StreamReadException read && !(jackson instanceof InputCoercionException)) {
                // Duplicate keys and NaN/Infinity are refused by the parser: name the field it was reading.
                String field = parserPath(read);
                String original = jackson.getOriginalMessage();
                String message = null;
                if (original.startsWith("Duplicate Object property") || original.startsWith("Duplicate field")) {
                    message = "appears more than once in its object; give each property once";
                } else if (original.startsWith("Non-standard token")) {
                    message = "must be a finite number (NaN and Infinity are not JSON numbers)";
                }
                if (message != null && !field.isEmpty()) {
                    return problem(ProblemType.VALIDATION_FAILED, field + ": " + message, List.of(new FieldError(field, message)));
                }
            }
            if (jackson instanceof MismatchedInputException && path.isEmpty()) {
                String message = "the request body must be a JSON object";
                return problem(ProblemType.VALIDATION_FAILED, message, List.of(new FieldError("body", message)));
            }
            if (!(jackson instanceof StreamReadException) || jackson instanceof InputCoercionException) {
                if (!path.isEmpty()) {
                    // A well-formed document with a value of the wrong type: a field error, not a syntax error.
                    String message = typeMessage(jackson);
                    List<FieldError> errors = List.of(new FieldError(path, message));
                    return problem(ProblemType.VALIDATION_FAILED, path + ": " + message, errors);
                }
            }
            String message = jackson.getOriginalMessage().lines().findFirst().orElse("malformed JSON") + where;
            return problem(ProblemType.MALFORMED_JSON, message, List.of(new FieldError(path.isEmpty() ? "body" : path, message)));
        }
        String message = "the request body is missing or unreadable";
        return problem(ProblemType.MALFORMED_JSON, message, List.of(new FieldError("body", message)));
    }

    /** An SSE stream reaching its timeout is a normal end: the client reconnects; there is no body to write. */
    @Override
    protected ResponseEntity<Object> handleAsyncRequestTimeoutException(AsyncRequestTimeoutException ex, HttpHeaders headers,
                                                                        HttpStatusCode status, WebRequest request) {
        if (request instanceof ServletWebRequest web && web.getResponse() != null && web.getResponse().isCommitted()) return null;
        return super.handleAsyncRequestTimeoutException(ex, headers, status, request);
    }

    @Override
    protected ResponseEntity<Object> handleExceptionInternal(Exception ex, Object body, HttpHeaders headers,
                                                             HttpStatusCode statusCode, WebRequest request) {
        ProblemDetail detail = body instanceof ProblemDetail pd ? pd : ProblemDetail.forStatus(statusCode);
        ProblemType type = ProblemType.forStatus(statusCode.value());
        if (detail.getType() == null || "about:blank".equals(detail.getType().toString())) detail.setType(type.uri());
        if (detail.getProperties() == null || !detail.getProperties().containsKey("errors")) detail.setProperty("errors", List.of());
        HttpHeaders out = new HttpHeaders();
        if (headers != null) out.putAll(headers);
        out.setContentType(MediaType.APPLICATION_PROBLEM_JSON);
        return ResponseEntity.status(statusCode).headers(out).body(detail);
    }

    static ResponseEntity<Object> problem(ProblemType type, String detail, List<FieldError> errors) {
        return ResponseEntity.status(type.status()).contentType(MediaType.APPLICATION_PROBLEM_JSON)
                .body(toProblem(type, detail, errors));
    }

    /** The problem body; also written by filters, which run outside this advice. */
    public static ProblemDetail toProblem(ProblemType type, String detail, List<FieldError> errors) {
        ProblemDetail pd = ProblemDetail.forStatusAndDetail(type.status(), detail);
        pd.setType(type.uri());
        pd.setTitle(type.title());
        pd.setProperty("errors", errors);
        return pd;
    }

    /**
     * The detail of a problem with field errors: the one fault, or the count first and then the first fault, so that
     * the count cannot read as part of a message that ends in a list ({@code "3 faults (each in errors); the first:
     * variants[0].family: ... expected one of [mha, gqa, ...]"}).
     */
    static String summary(List<FieldError> errors) {
        if (errors.isEmpty()) return "the request is invalid";
        FieldError first = errors.getFirst();
        String head = first.field() + ": " + first.message();
        return errors.size() == 1 ? head : errors.size() + " faults (each in errors); the first: " + head;
    }

    @Override
    protected ResponseEntity<Object> handleHttpMediaTypeNotSupported(HttpMediaTypeNotSupportedException ex, HttpHeaders headers,
                                                                     HttpStatusCode status, WebRequest request) {
        MediaType got = ex.getContentType();
        String detail = "the request body must be " + MediaType.APPLICATION_JSON_VALUE + ", got "
                + (got == null ? "no Content-Type" : "Content-Type " + got);
        ResponseEntity<Object> out = problem(ProblemType.UNSUPPORTED_MEDIA_TYPE, detail, List.of());
        HttpHeaders h = new HttpHeaders();
        h.putAll(out.getHeaders());
        h.setAccept(List.of(MediaType.APPLICATION_JSON));
        return ResponseEntity.status(out.getStatusCode()).headers(h).body(out.getBody());
    }

    @Override
    protected ResponseEntity<Object> handleHttpRequestMethodNotSupported(HttpRequestMethodNotSupportedException ex,
                                                                         HttpHeaders headers, HttpStatusCode status,
                                                                         WebRequest request) {
        var allowed = ex.getSupportedHttpMethods();
        String list = allowed == null || allowed.isEmpty() ? "none"
                : allowed.stream().map(org.springframework.http.HttpMethod::name).sorted().collect(java.util.stream.Collectors.joining(", "));
        String detail = ex.getMethod() + " is not allowed here; allowed: " + list;
        ResponseEntity<Object> out = problem(ProblemType.METHOD_NOT_ALLOWED, detail, List.of());
        HttpHeaders h = new HttpHeaders();
        h.putAll(out.getHeaders());
        if (allowed != null && !allowed.isEmpty()) h.setAllow(allowed);
        return ResponseEntity.status(out.getStatusCode()).headers(h).body(out.getBody());
    }

    /** Jackson's path as the request wrote it: {@code variants[1].dModel}. */
    static String jsonPath(List<JacksonException.Reference> path) {
        StringBuilder sb = new StringBuilder();
        for (JacksonException.Reference r : path) {
            if (r.getPropertyName() != null) {
                if (!sb.isEmpty()) sb.append('.');
                sb.append(r.getPropertyName());
            } else if (r.getIndex() >= 0) {
                sb.append('[').append(r.getIndex()).append(']');
            }
        }
        return sb.toString();
    }

    /**
     * What a wrongly typed value should have been, in the request's terms (no Java class names): the enum's values,
     * "an integer", "a string", ...; a number beyond the field's type gets the field's own range where the request
     * record declares one (@Min/@Max), and the value as sent.
     */
    static String typeMessage(JacksonException jackson) {
        List<JacksonException.Reference> path = jackson.getPath();
        JacksonException.Reference last = path.isEmpty() ? null : path.getLast();
        if (jackson instanceof InputCoercionException coercion) {
            String range = last == null ? null : declaredRange(last);
            String got = coercion.processor() instanceof JsonParser p ? safeText(p) : null;
            return (range != null ? "must be in " + range : "is out of range") + (got == null ? "" : ", got " + got);
        }
        if (jackson instanceof MismatchedInputException mi && mi.getTargetType() != null) {
            Class<?> target = mi.getTargetType();
            String expected;
            if (target.isEnum()) {
                expected = "one of " + java.util.Arrays.stream(target.getEnumConstants()).map(c -> ((Enum<?>) c).name())
                        .collect(java.util.stream.Collectors.joining(", "));
            } else if (target == Integer.class || target == int.class || target == Long.class || target == long.class) {
                String range = last == null ? null : declaredRange(last);
                expected = range == null ? "an integer" : "an integer in " + range;
            } else if (target == String.class) {
                expected = "a string";
            } else if (target == Boolean.class || target == boolean.class) {
                expected = "true or false";
            } else if (Number.class.isAssignableFrom(target) || target == double.class) {
                expected = "a finite number";
            } else if (java.util.Collection.class.isAssignableFrom(target)) {
                expected = "an array";
            } else if (java.util.Map.class.isAssignableFrom(target)) {
                expected = "an object";
            } else {
                expected = "a valid value";
            }
            String got = mi instanceof InvalidFormatException f ? describe(f.getValue()) : null;
            return "must be " + expected + (got == null ? "" : ", got " + got);
        }
        return "has an invalid value";
    }

    private static String describe(Object value) {
        if (value == null) return null;
        if (value instanceof String str) return "\"" + (str.length() > 60 ? str.substring(0, 60) + "..." : str) + "\"";
        return String.valueOf(value);
    }

    private static String safeText(JsonParser p) {
        try {
            String text = p.getString();
            return text == null || text.length() > 60 ? null : text;
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** "[min, max]" from the @Min/@Max of the record component a reference points at, else null. */
    private static String declaredRange(JacksonException.Reference ref) {
        Object from = ref.from();
        Class<?> type = from instanceof Class<?> c ? c : from == null ? null : from.getClass();
        if (type == null || !type.isRecord() || ref.getPropertyName() == null) return null;
        for (java.lang.reflect.RecordComponent c : type.getRecordComponents()) {
            if (!c.getName().equals(ref.getPropertyName())) continue;
            try {
                java.lang.reflect.Field f = type.getDeclaredField(c.getName());
                jakarta.validation.constraints.Min min = f.getAnnotation(jakarta.validation.constraints.Min.class);
                jakarta.validation.constraints.Max max = f.getAnnotation(jakarta.validation.constraints.Max.class);
                if (min != null && max != null) return "[" + min.value() + ", " + max.value() + "]";
            } catch (NoSuchFieldException e) {
                return null;
            }
        }
        return null;
    }

    /** The path the parser was reading when it refused a token: {@code variants[0].nHeads}. */
    private static String parserPath(StreamReadException read) {
        if (!(read.processor() instanceof JsonParser p)) return "";
        try {
            String pointer = p.streamReadContext().pathAsPointer().toString();
            StringBuilder sb = new StringBuilder();
            for (String part : pointer.split("/")) {
                if (part.isEmpty()) continue;
                String name = part.replace("~1", "/").replace("~0", "~");
                if (name.chars().allMatch(Character::isDigit) && !sb.isEmpty()) sb.append('[').append(name).append(']');
                else sb.append(sb.isEmpty() ? "" : ".").append(name);
            }
            return sb.toString();
        } catch (RuntimeException e) {
            return "";
        }
    }

    private static String location(TokenStreamLocation loc) {
        if (loc == null || loc.getLineNr() < 0) return "";
        return " (line " + loc.getLineNr() + ", column " + loc.getColumnNr() + ")";
    }

    private static String describeType(Class<?> type) {
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) return "an integer";
        if (type == java.util.UUID.class) return "a UUID";
        if (type.isEnum()) return "one of " + java.util.Arrays.toString(type.getEnumConstants());
        return "a valid " + type.getSimpleName();
    }
}
