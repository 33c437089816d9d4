package org.ccalab.common.variant;

/** How a centroid moves towards its assigned keys (ovq.md sections 3 and 4 step 3). */
public enum OvqUpdate {
    /** Count-based Newton step: the running mean, step 1 / c_j per key (the spec's default). */
    NEWTON,
    /** The constant learning-rate ablation: mu_j += eta (mean of the assigned keys - mu_j), values likewise. */
    CONSTANT
}
