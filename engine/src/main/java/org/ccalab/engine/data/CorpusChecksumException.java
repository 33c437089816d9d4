package org.ccalab.engine.data;

/** A corpus tarball whose sha256 is not the pinned one; it is never used nor left in the cache. */
public final class CorpusChecksumException extends RuntimeException {
    public CorpusChecksumException(String message) {
        super(message);
    }
}
