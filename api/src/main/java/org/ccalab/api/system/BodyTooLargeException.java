package org.ccalab.api.system;

import java.io.IOException;

/** Raised while reading a body without a Content-Length that turns out larger than the limit. */
public final class BodyTooLargeException extends IOException {
    public BodyTooLargeException(long limit) {
        super("the request body exceeds the limit of " + limit + " bytes (ccalab.api.limits.max-body-bytes)");
    }
}
