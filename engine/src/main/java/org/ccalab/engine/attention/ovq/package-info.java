/**
 * Online vector-quantized attention (ovq.md): {@link org.ccalab.engine.attention.ovq.OvqAttention} is the
 * layer (projections, per-head L2 norms, beta); {@link org.ccalab.engine.attention.ovq.OvqHead} one head of one
 * sequence (dictionary, open chunk, read, fold, rewind), shared by forward, prefill and decode;
 * {@link org.ccalab.engine.attention.ovq.OvqHeadGradient} its backward (chunk-level BPTT over the folds).
 * Letters: B batch, T tokens, E width, H heads, D head dim (d = d_v = E / H), L chunk length, n active
 * centroids, N_max the cap.
 */
package org.ccalab.engine.attention.ovq;
