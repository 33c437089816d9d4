package org.ccalab.common.variant;

import org.ccalab.common.validation.Check;

/**
 * Compressed convolutional attention (cca.md): nHeads query and nHeads key/value heads of headDim in a
 * latent of E / C channels, C = {@link #compression()}. Computed as the ungrouped case of CCGQA.
 */
public record CcaConfig(int dModel, int nHeads, int headDim, CompressedConvSpec conv) implements AttentionConfig {
    public CcaConfig {
        // dModel's range is the grouped form's too; judged here so that it is reported with the others.
        Check.faults().inRange("dModel", dModel, 1, MAX_WIDTH).inRange("nHeads", nHeads, 1, MAX_HEADS)
                .inRange("headDim", headDim, 1, MAX_HEAD_DIM).throwIfAny();
        Check.that(dModel % (nHeads * headDim) == 0, "nHeads",
                "nHeads * headDim (" + nHeads * headDim + ") must divide dModel (" + dModel + ")");
        if (conv == null) conv = CompressedConvSpec.DEFAULT;
        // The grouped form holds every other rule; build it once so the same messages apply.
        new CcgqaConfig(dModel, nHeads, nHeads, headDim, conv);
    }

    public CcaConfig(int dModel, int nHeads, int headDim) {
        this(dModel, nHeads, headDim, CompressedConvSpec.DEFAULT);
    }

    /** Compression factor C = E / (nHeads * headDim). */
    public int compression() {
        return dModel / (nHeads * headDim);
    }

    public CcgqaConfig asGrouped() {
        return new CcgqaConfig(dModel, nHeads, nHeads, headDim, conv);
    }

    @Override
    public String family() {
        return "cca";
    }
}
