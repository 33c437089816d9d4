package org.ccalab.common.variant;

import java.util.List;

/**
 * One configurable field of a variant as a form shows it. {@code name} is the JSON path inside the config
 * (nested records dotted: {@code conv.rope.fraction}); {@code type} is {@code int}, {@code double},
 * {@code boolean} or {@code enum} (then {@code allowed} lists the values); min/max are inclusive bounds
 * enforced by the config's own validation (null where none applies).
 */
public record ParameterDescriptor(String name, String type, Object defaultValue, Number min, Number max,
                                  List<String> allowed, String description) {
    public ParameterDescriptor {
        allowed = allowed == null ? List.of() : List.copyOf(allowed);
    }

    static ParameterDescriptor integer(String name, int def, int min, int max, String description) {
        return new ParameterDescriptor(name, "int", def, min, max, null, description);
    }

    static ParameterDescriptor real(String name, double def, double min, double max, String description) {
        return new ParameterDescriptor(name, "double", def, min, max, null, description);
    }

    static ParameterDescriptor bool(String name, boolean def, String description) {
        return new ParameterDescriptor(name, "boolean", def, null, null, null, description);
    }

    static ParameterDescriptor choice(String name, Enum<?> def, List<String> allowed, String description) {
        return new ParameterDescriptor(name, "enum", def.name(), null, null, allowed, description);
    }
}
