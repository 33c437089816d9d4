package org.ccalab.api.system;

/** One entry of a problem's {@code errors}: the path of the field at fault in the request, and why. */
public record FieldError(String field, String message) {}
