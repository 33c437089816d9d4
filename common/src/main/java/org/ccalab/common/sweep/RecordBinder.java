package org.ccalab.common.sweep;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.AttentionConfig;

/**
 * Binds the loose JSON tree of a request (maps, lists, numbers, strings, booleans, as a JSON parser yields
 * them) to the wire records through their canonical constructors, so that every failure, a wrong type or a
 * record's own validation, names its full path ({@code variants[1].conv.convSeqKernel}). A missing
 * primitive binds as 0/false, as Jackson does, and the record's checks then name it; an unknown key is an
 * error rather than silently dropped, because a misspelt grid or variant parameter would otherwise run
 * a different experiment than the one asked for.
 */
final class RecordBinder {
    private static final Map<String, Class<? extends AttentionConfig>> FAMILIES = families();

    private RecordBinder() {}

    /** The wire names of the variant families, in declaration order. */
    static List<String> familyNames() {
        return List.copyOf(FAMILIES.keySet());
    }

    static AttentionConfig bindVariant(Object json, String path) {
        if (!(json instanceof Map<?, ?> map)) throw new InvalidConfigException(path, "must be an object, got " + describe(json));
        Object family = map.get("family");
        if (family == null) throw new InvalidConfigException(path + ".family", "is required, one of " + familyNames());
        Class<? extends AttentionConfig> type = family instanceof String s ? FAMILIES.get(s.toLowerCase(Locale.ROOT)) : null;
        if (type == null)
            throw new InvalidConfigException(path + ".family", "unknown variant family " + describe(family) + ", expected one of " + familyNames());
        Map<String, Object> rest = new LinkedHashMap<>();
        map.forEach((k, v) -> rest.put(String.valueOf(k), v));
        rest.remove("family");
        return bindRecord(type, rest, path);
    }

    /**
     * Binds {@code json} (a map) to the record {@code type}; {@code path} prefixes every error field. Reports every
     * fault it can tell apart soundly: each unknown key and each wrongly typed value (they do not depend on one
     * another), then the record's own checks; after a fault, the record is tried again with that value left out (its
     * default), and a further fault is reported only where it is a rule of one value alone (a range, a required
     * value), never a rule across values that a default put in might have caused.
     */
    static <R> R bindRecord(Class<R> type, Map<String, ?> json, String path) {
        if (!type.isRecord()) throw new IllegalArgumentException(type.getName() + " is not a record");
        RecordComponent[] components = type.getRecordComponents();
        List<String> names = Arrays.stream(components).map(RecordComponent::getName).toList();
        List<InvalidConfigException> faults = new ArrayList<>();
        for (String key : json.keySet()) {
            if (!names.contains(key))
                faults.add(new InvalidConfigException(join(path, key), "unknown parameter, expected one of " + names));
        }
        Object[] args = new Object[components.length];
        Class<?>[] types = new Class<?>[components.length];
        boolean[] faulted = new boolean[components.length];
        Map<Integer, Object> overflow = new LinkedHashMap<>();
        for (int i = 0; i < components.length; i++) {
            RecordComponent c = components[i];
            types[i] = c.getType();
            Object value = json.get(c.getName());
            try {
                Integer clamped = clampedInt(value, c.getType());
                if (clamped != null) {
                    // Out of int's range: the record's own rule says what the field allows, so let it judge the
                    // nearest int and report the value as sent.
                    overflow.put(i, value);
                    args[i] = clamped;
                } else {
                    args[i] = convert(value, c.getType(), c.getGenericType(), join(path, c.getName()));
                }
            } catch (InvalidConfigException e) {
                faults.add(e);
                faulted[i] = true;
                args[i] = c.getType().isPrimitive() ? zero(c.getType()) : null;
            }
        }
        Constructor<R> ctor;
        try {
            ctor = type.getDeclaredConstructor(types);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException("cannot construct " + type.getName(), e);
        }
        boolean substituted = !faults.isEmpty();
        for (int attempt = 0; attempt <= components.length; attempt++) {
            try {
                R record = ctor.newInstance(args);
                if (faults.isEmpty() && overflow.isEmpty()) return record;
                break;
            } catch (InvocationTargetException e) {
                if (!(e.getCause() instanceof InvalidConfigException ice)) {
                    if (!faults.isEmpty()) break;
                    if (e.getCause() instanceof RuntimeException re)
                        throw new InvalidConfigException(path.isEmpty() ? type.getSimpleName() : path, re.getMessage());
                    throw new IllegalStateException(e.getCause());
                }
                // A record reports the rules of one value alone together (Check.faults()); take each one it threw.
                boolean wasSubstituted = substituted;
                boolean progressed = false;
                boolean stop = false;
                for (InvalidConfigException one : ice.all()) {
                    int i = names.indexOf(one.field());
                    if (i >= 0 && faulted[i]) continue; // a consequence of a value already at fault
                    if (wasSubstituted && (i < 0 || !ownValueRule(one.reason()))) {
                        stop = true;
                        break;
                    }
                    InvalidConfigException named = missing(one, json, types, names);
                    if (i >= 0 && overflow.containsKey(i)) {
                        named = new InvalidConfigException(named.field(),
                                named.reason().replaceFirst(", got -?\\d+$", "") + ", got " + overflow.remove(i));
                    }
                    faults.add(path.isEmpty() ? named : named.under(path));
                    if (i < 0) {
                        stop = true;
                        break;
                    }
                    faulted[i] = true;
                    substituted = true;
                    progressed = true;
                    args[i] = types[i].isPrimitive() ? zero(types[i]) : null;
                }
                if (stop || !progressed) break;
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot construct " + type.getName(), e);
            }
        }
        // A value beyond int that no rule of the record named (none checks it, or another fault stopped the checks).
        overflow.forEach((i, value) -> faults.add(new InvalidConfigException(join(path, names.get(i)),
                "must be in [" + Integer.MIN_VALUE + ", " + Integer.MAX_VALUE + "], got " + value)));
        throw InvalidConfigException.of(faults);
    }

    /**
     * A rule about one value alone (Check.inRange, positive, atMost, an allowed value, evenness, a required value), not
     * one across values.
     */
    private static boolean ownValueRule(String reason) {
        return reason.startsWith("must be in [") || reason.startsWith("must be >= ") || reason.startsWith("must be <= ")
                || reason.startsWith("must be one of ") || reason.startsWith("must be even") || reason.startsWith("is required");
    }

    /** The nearest int to an integral number beyond int's range, for an int field; else null. */
    private static Integer clampedInt(Object value, Class<?> type) {
        if (!(type == int.class || type == Integer.class) || !(value instanceof Number n)) return null;
        BigDecimal d;
        try {
            d = new BigDecimal(n.toString());
        } catch (NumberFormatException e) {
            return null;
        }
        if (d.stripTrailingZeros().scale() > 0) return null;
        if (d.compareTo(BigDecimal.valueOf(Integer.MAX_VALUE)) > 0) return Integer.MAX_VALUE;
        if (d.compareTo(BigDecimal.valueOf(Integer.MIN_VALUE)) < 0) return Integer.MIN_VALUE;
        return null;
    }

    /**
     * A record check that failed on a primitive the request left out (bound as 0/false) says so: "is required"
     * and the rule, not "got 0" for a value nobody sent (e.g. a cca variant without headDim).
     */
    private static InvalidConfigException missing(InvalidConfigException ice, Map<String, ?> json, Class<?>[] types,
                                                  List<String> names) {
        int i = names.indexOf(ice.field());
        if (i < 0 || json.containsKey(ice.field()) || !types[i].isPrimitive()) return ice;
        return new InvalidConfigException(ice.field(), "is required: " + ice.reason().replaceFirst(", got (0|0\\.0|false)$", ""));
    }

    static Object convert(Object value, Class<?> type, Type generic, String path) {
        if (value == null) return type.isPrimitive() ? zero(type) : null;
        if (type == int.class || type == Integer.class) return (int) integral(value, path, Integer.MIN_VALUE, Integer.MAX_VALUE, "an integer");
        if (type == long.class || type == Long.class) return integral(value, path, Long.MIN_VALUE, Long.MAX_VALUE, "an integer");
        if (type == double.class || type == Double.class) {
            if (value instanceof Number n) {
                double d = n.doubleValue();
                if (!Double.isFinite(d)) throw new InvalidConfigException(path, "must be a finite number, got " + value);
                return d;
            }
            throw new InvalidConfigException(path, "must be a number, got " + describe(value));
        }
        if (type == boolean.class || type == Boolean.class) {
            if (value instanceof Boolean b) return b;
            throw new InvalidConfigException(path, "must be true or false, got " + describe(value));
        }
        if (type == String.class) {
            if (value instanceof String s) return s;
            throw new InvalidConfigException(path, "must be a string, got " + describe(value));
        }
        if (type.isEnum()) return enumValue(value, type, path);
        if (type == List.class) {
            if (!(value instanceof List<?> list)) throw new InvalidConfigException(path, "must be an array, got " + describe(value));
            Type element = generic instanceof ParameterizedType p ? p.getActualTypeArguments()[0] : Object.class;
            Class<?> elementClass = element instanceof Class<?> c ? c : Object.class;
            List<Object> out = new ArrayList<>(list.size());
            List<InvalidConfigException> faults = new ArrayList<>();
            for (int i = 0; i < list.size(); i++) {
                try {
                    Object converted = convert(list.get(i), elementClass, element, path + "[" + i + "]");
                    if (converted == null) throw new InvalidConfigException(path + "[" + i + "]", "must not be null");
                    out.add(converted);
                } catch (InvalidConfigException e) {
                    faults.add(e);
                }
            }
            if (!faults.isEmpty()) throw InvalidConfigException.of(faults);
            return out;
        }
        if (type == AttentionConfig.class) return bindVariant(value, path);
        if (type.isRecord()) {
            if (!(value instanceof Map<?, ?> map)) throw new InvalidConfigException(path, "must be an object, got " + describe(value));
            Map<String, Object> m = new LinkedHashMap<>();
            map.forEach((k, v) -> m.put(String.valueOf(k), v));
            return bindRecord(type, m, path);
        }
        if (type == Object.class) return value;
        throw new IllegalStateException("no binding for " + type.getName() + " at " + path);
    }

    private static long integral(Object value, String path, long min, long max, String what) {
        if (!(value instanceof Number n)) throw new InvalidConfigException(path, "must be " + what + ", got " + describe(value));
        BigDecimal d = switch (n) {
            case BigDecimal b -> b;
            case BigInteger b -> new BigDecimal(b);
            case Double x when !Double.isFinite(x) -> throw new InvalidConfigException(path, "must be " + what + ", got " + x);
            case Float x when !Float.isFinite(x) -> throw new InvalidConfigException(path, "must be " + what + ", got " + x);
            case Double x -> BigDecimal.valueOf(x);
            case Float x -> BigDecimal.valueOf(x.doubleValue());
            default -> BigDecimal.valueOf(n.longValue());
        };
        if (d.stripTrailingZeros().scale() > 0) throw new InvalidConfigException(path, "must be " + what + ", got " + value);
        if (d.compareTo(BigDecimal.valueOf(min)) < 0 || d.compareTo(BigDecimal.valueOf(max)) > 0)
            throw new InvalidConfigException(path, "must be in [" + min + ", " + max + "], got " + value);
        return d.longValueExact();
    }

    private static Object enumValue(Object value, Class<?> type, String path) {
        List<String> names = Arrays.stream(type.getEnumConstants()).map(c -> ((Enum<?>) c).name()).toList();
        if (value instanceof String s) {
            for (Object c : type.getEnumConstants()) {
                if (((Enum<?>) c).name().equalsIgnoreCase(s)) return c;
            }
        }
        throw new InvalidConfigException(path, "must be one of " + names + ", got " + describe(value));
    }

    private static Object zero(Class<?> type) {
        if (type == boolean.class) return false;
        if (type == int.class) return 0;
        if (type == long.class) return 0L;
        if (type == double.class) return 0.0;
        throw new IllegalStateException("no zero for " + type);
    }

    static String describe(Object value) {
        if (value == null) return "null";
        if (value instanceof String s) return "\"" + (s.length() > 60 ? s.substring(0, 60) + "..." : s) + "\"";
        if (value instanceof Map<?, ?>) return "an object";
        if (value instanceof List<?>) return "an array";
        return String.valueOf(value);
    }

    private static String join(String path, String name) {
        return path.isEmpty() ? name : path + "." + name;
    }

    private static Map<String, Class<? extends AttentionConfig>> families() {
        Map<String, Class<? extends AttentionConfig>> out = new LinkedHashMap<>();
        for (JsonSubTypes.Type t : AttentionConfig.class.getAnnotation(JsonSubTypes.class).value()) {
            @SuppressWarnings("unchecked") Class<? extends AttentionConfig> c = (Class<? extends AttentionConfig>) t.value();
            out.put(t.name(), c);
        }
        return Collections.unmodifiableMap(out);
    }
}
