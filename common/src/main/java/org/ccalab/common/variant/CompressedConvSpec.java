package org.ccalab.common.variant;

import org.ccalab.common.validation.Check;

/**
 * The parts CCA and CCGQA share besides head counts (cca.md sections 2 and "Open questions"):
 * conv widths k0 (depthwise over time) and k1 (grouped per head), partial RoPE, key temperature mode,
 * the epsilon added to the squared norm, and the two ablation switches of the paper's Table IV.
 * Null arguments take the spec's recommended defaults; explicit values are validated.
 */
public record CompressedConvSpec(Integer convSeqKernel, Integer convChannelKernel, RopeSpec rope,
                                 KeyTemperature keyTemperature, Double normEps, Boolean qkMean,
                                 Boolean valueShift) {
    public static final CompressedConvSpec DEFAULT = new CompressedConvSpec(null, null, null, null, null, null, null);
    public static final int MAX_CONV_KERNEL = 16;

    public CompressedConvSpec {
        if (convSeqKernel == null) convSeqKernel = 2;
        if (convChannelKernel == null) convChannelKernel = 2;
        if (rope == null) rope = RopeSpec.HALF;
        if (keyTemperature == null) keyTemperature = KeyTemperature.EXP;
        if (normEps == null) normEps = 1e-12;
        if (qkMean == null) qkMean = true;
        if (valueShift == null) valueShift = true;
        Check.faults().inRange("convSeqKernel", convSeqKernel, 1, MAX_CONV_KERNEL)
                .inRange("convChannelKernel", convChannelKernel, 1, MAX_CONV_KERNEL)
                .inRange("normEps", normEps, 0.0, 1e-2).throwIfAny();
    }

    /** P = (k0 - 1) + (k1 - 1): left padding of the raw projections and length of the decode conv window. */
    public int convStateLength() {
        return convSeqKernel + convChannelKernel - 2;
    }
}
