package org.ccalab.engine.attention;

/**
 * Per-variant incremental state (KV cache, latent cache, conv window, value-shift state) for a batch of
 * sequences that all sit at the same position.
 */
public interface DecodeState {
    /** Index of the next token to decode (= tokens already consumed). */
    int position();

    /** Bytes of state held now, at the given bytes per element. */
    long bytes(int bytesPerElement);
}
