package org.ccalab.common.variant;

/** How CCA's per-KV-head temperature parameter theta becomes the key scale beta (cca.md section 2 step 6). */
public enum KeyTemperature {
    /** beta = exp(theta), the paper's listing; theta starts at 0. */
    EXP,
    /** beta = theta, ZAYA1 / HF; theta starts at 1. */
    LINEAR,
    /** beta = exp(clamp(theta, 1e-7, 2)), vLLM's clamp_temp; theta starts at the lower bound 1e-7 (at 0 the clamp would pass no gradient). */
    CLAMPED_EXP
}
