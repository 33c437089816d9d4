package org.ccalab.api.system;

import jakarta.validation.ConstraintViolation;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * The request-level faults of a JSON body bound with unknown properties collected: one per unknown property (naming
 * the expected ones), then the bean-validation violations in the order of the request's fields (a nested path sorts
 * by its first segment), then by path and message, so a problem lists them the same way every time.
 */
public final class RequestFaults {
    private RequestFaults() {}

    public static List<FieldError> of(Collection<String> unknown, List<String> fields,
                                      Set<? extends ConstraintViolation<?>> violations) {
        List<FieldError> errors = new ArrayList<>();
        unknown.forEach(k -> errors.add(new FieldError(k, "unknown property; expected " + String.join(", ", fields))));
        List<FieldError> bean = new ArrayList<>();
        for (ConstraintViolation<?> c : violations) bean.add(new FieldError(c.getPropertyPath().toString(), c.getMessage()));
        bean.sort(Comparator.comparingInt((FieldError e) -> fields.indexOf(e.field().replaceFirst("[.\\[].*", "")))
                .thenComparing(FieldError::field).thenComparing(FieldError::message));
        errors.addAll(bean);
        return errors;
    }
}
