/**
 * Attention layers of every variant behind one contract ({@link org.ccalab.engine.attention.AttentionLayer}),
 * built by {@link org.ccalab.engine.attention.AttentionLayers}. A package per family: {@code gqa} (MHA, GQA and
 * MQA on one code path, and with a window the sliding-window MHA of OVQ hybrids), {@code cca} (CCA and CCGQA),
 * {@code mla}, {@code ovq} (online vector-quantized attention: a per-sequence dictionary instead of a KV cache);
 * {@code parts} holds what they share.
 *
 * <p>Letters in every shape comment: B batch, T tokens, E model width, H (Hq) query heads, Hkv key/value heads,
 * D head dim. Activations are token-major row-major float64 ([B, T, H, D] for per-head tensors), weights keep
 * PyTorch layouts ([out, in] linears, [out, in / groups, kernel] convs) under their safetensors names. Every
 * layer is causal, saves in forward what its analytic backward needs, and decodes one token per sequence
 * from a state that reproduces prefill exactly.
 */
package org.ccalab.engine.attention;
