package org.ccalab.common.variant;

/** How OVQ's dictionary grows with the tokens seen (ovq.md section 4, "Growth schedule"). */
public enum OvqGrowth {
    /** N(t) = ceil(alpha ln(1 + t / alpha)), alpha solved so that N(growthLength) = dictionarySize: a CRP-like plateau. */
    LOG,
    /** N(t) = ceil(t / r) with r = growthLength / dictionarySize: the paper's linear ablation. */
    LINEAR
}
