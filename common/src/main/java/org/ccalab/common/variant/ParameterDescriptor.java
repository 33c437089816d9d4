package org.ccalab.common.variant;

import java.util.List;

/**
 * One configurable field of a variant as a form shows it. {@code name} is the JSON path inside the config
 * (nested records dotted: {@code conv.rope.fraction}); {@code type} is {@code int}, {@code double},
 * {@code boolean} or {@code enum} (then {@code allowed} lists the values); min/max are inclusive bounds
 * enforced by the config's own validation (null where none applies). {@code defaultValue} is the value a config
 * takes when the request leaves the field out (for a nested field: leaves out its enclosing object); a
 * {@code required} field has none (null): leaving it out is refused ({@code is required}).
 */
public record ParameterDescriptor(String name, String type, Object defaultValue, boolean required, Number min, Number max,
                                  List<String> allowed, String description) {
    public ParameterDescriptor {
        allowed = allowed == null ? List.of() : List.copyOf(allowed);
    }

    static ParameterDescriptor integer(String name, int def, int min, int max, String description) {
        return new ParameterDescriptor(name, "int", def, false, min, max, null, description);
    }

    /** An int the request must give: no default (left out, the config refuses it). */
    static ParameterDescriptor required(String name, int min, int max, String description) {
        return new ParameterDescriptor(name, "int", null, true, min, max, null, description);
    }

    static ParameterDescriptor real(String name, double def, double min, double max, String description) {
        return new ParameterDescriptor(name, "double", def, false, min, max, null, description);
    }

    static ParameterDescriptor bool(String name, boolean def, String description) {
        return new ParameterDescriptor(name, "boolean", def, false, null, null, null, description);
    }

    static ParameterDescriptor choice(String name, Enum<?> def, List<String> allowed, String description) {
        return new ParameterDescriptor(name, "enum", def.name(), false, null, null, allowed, description);
    }
}
