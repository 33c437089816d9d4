package org.ccalab.common.validation;

/**
 * A configuration value that cannot work, naming the parameter at fault so that the API can report it
 * as the field of an RFC 9457 problem and the CLI can print it.
 */
public final class InvalidConfigException extends IllegalArgumentException {
    private final String field;

    public InvalidConfigException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    /** The parameter name (relative to the object validated, e.g. {@code nKvHeads}). */
    public String field() {
        return field;
    }

    /** The message without the field prefix. */
    public String reason() {
        return getMessage().substring(field.length() + 2);
    }

    /** The same failure with its field placed under a parent path, e.g. {@code variants[2].nKvHeads}. */
    public InvalidConfigException under(String parentPath) {
        return new InvalidConfigException(parentPath + "." + field, reason());
    }
}
