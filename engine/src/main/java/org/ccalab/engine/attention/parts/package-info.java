/**
 * Pieces the attention variants share: PyTorch-layout linear projections, the KV cache, deterministic
 * initialisation, and the input checks. Letters used in every shape comment of the variants: B batch,
 * T tokens, E model width, H query heads, Hkv KV heads, D head dim.
 */
package org.ccalab.engine.attention.parts;
