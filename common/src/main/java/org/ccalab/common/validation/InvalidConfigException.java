package org.ccalab.common.validation;

import java.util.ArrayList;
import java.util.List;

/**
 * A configuration value that cannot work, naming the parameter at fault so that the API can report it
 * as the field of an RFC 9457 problem and the CLI can print it. One exception may carry further faults found
 * along with the first ({@link #all()}, e.g. two bad parameters of one variant); its message is the first's.
 */
public final class InvalidConfigException extends IllegalArgumentException {
    private final String field;
    private final List<InvalidConfigException> more;

    public InvalidConfigException(String field, String message) {
        this(field, message, List.of());
    }

    private InvalidConfigException(String field, String message, List<InvalidConfigException> more) {
        super(field + ": " + message);
        this.field = field;
        this.more = List.copyOf(more);
    }

    /** The faults as one exception: the first, carrying the others (each flattened); {@code faults} not empty. */
    public static InvalidConfigException of(List<InvalidConfigException> faults) {
        if (faults.isEmpty()) throw new IllegalArgumentException("no fault");
        List<InvalidConfigException> flat = new ArrayList<>();
        for (InvalidConfigException f : faults) flat.addAll(f.all());
        InvalidConfigException first = flat.getFirst();
        return flat.size() == 1 ? first : new InvalidConfigException(first.field, first.reason(), flat.subList(1, flat.size()));
    }

    /** The parameter name (relative to the object validated, e.g. {@code nKvHeads}). */
    public String field() {
        return field;
    }

    /** The message without the field prefix. */
    public String reason() {
        return getMessage().substring(field.length() + 2);
    }

    /** Every fault this one stands for, itself first, each alone (without further faults). */
    public List<InvalidConfigException> all() {
        if (more.isEmpty()) return List.of(this);
        List<InvalidConfigException> out = new ArrayList<>();
        out.add(new InvalidConfigException(field, reason()));
        out.addAll(more);
        return out;
    }

    /** The same failure (and every further one) with its field placed under a parent path, e.g. {@code variants[2].nKvHeads}. */
    public InvalidConfigException under(String parentPath) {
        return new InvalidConfigException(parentPath + "." + field, reason(),
                more.stream().map(m -> m.under(parentPath)).toList());
    }
}
