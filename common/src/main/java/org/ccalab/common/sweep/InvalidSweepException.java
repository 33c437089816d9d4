package org.ccalab.common.sweep;

import java.util.List;
import java.util.stream.Collectors;
import org.ccalab.common.validation.InvalidConfigException;

/**
 * A sweep that cannot be expanded, with every fault found (each naming its path in the request, e.g.
 * {@code variants[1].nKvHeads}, {@code grid.seqLen[2]}, {@code grid}), so a client can fix them all at once.
 */
public final class InvalidSweepException extends IllegalArgumentException {
    private final List<InvalidConfigException> violations;

    public InvalidSweepException(List<InvalidConfigException> violations) {
        super(violations.stream().map(Throwable::getMessage).collect(Collectors.joining("; ")));
        if (violations.isEmpty()) throw new IllegalArgumentException("an invalid sweep needs at least one violation");
        this.violations = List.copyOf(violations);
    }

    public List<InvalidConfigException> violations() {
        return violations;
    }
}
