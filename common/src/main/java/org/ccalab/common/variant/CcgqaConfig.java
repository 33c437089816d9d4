package org.ccalab.common.variant;

import org.ccalab.common.validation.Check;

/**
 * Compressed convolutional grouped-query attention (cca.md): queries in a latent of nQHeads * headDim
 * = E / C1 channels, keys and values in nKvHeads * headDim = E / C2, grouped like GQA. CCA is the case
 * nQHeads = nKvHeads (see {@link CcaConfig#asGrouped()}).
 */
public record CcgqaConfig(int dModel, int nQHeads, int nKvHeads, int headDim, CompressedConvSpec conv)
        implements AttentionConfig {
    public CcgqaConfig {
        Check.faults().inRange("dModel", dModel, 1, MAX_WIDTH).inRange("nQHeads", nQHeads, 1, MAX_HEADS)
                .inRange("headDim", headDim, 1, MAX_HEAD_DIM).inRange("nKvHeads", nKvHeads, 1, MAX_HEADS).throwIfAny();
        Check.divides("nKvHeads", nKvHeads, nQHeads, "nQHeads");
        Check.that(dModel % (nQHeads * headDim) == 0, "nQHeads",
                "nQHeads * headDim (" + nQHeads * headDim + ") must divide dModel (" + dModel + ")");
        Check.that(dModel % (nKvHeads * headDim) == 0, "nKvHeads",
                "nKvHeads * headDim (" + nKvHeads * headDim + ") must divide dModel (" + dModel + ")");
        if (conv == null) conv = CompressedConvSpec.DEFAULT;
        Check.that(!conv.valueShift() || nKvHeads == 1 || nKvHeads % 2 == 0, "nKvHeads",
                "the value shift needs an even number of KV heads or exactly one, got " + nKvHeads);
        Check.that(!conv.valueShift() || (nKvHeads * headDim) % 2 == 0, "headDim",
                "the value shift splits the value latent in halves: nKvHeads * headDim must be even");
    }

    public CcgqaConfig(int dModel, int nQHeads, int nKvHeads, int headDim) {
        this(dModel, nQHeads, nKvHeads, headDim, CompressedConvSpec.DEFAULT);
    }

    /** Query heads per KV head (G). */
    public int groupSize() {
        return nQHeads / nKvHeads;
    }

    /** Latent query width D_q = E / C1. */
    public int queryWidth() {
        return nQHeads * headDim;
    }

    /** Latent key (and value) width D_k = E / C2. */
    public int kvWidth() {
        return nKvHeads * headDim;
    }

    /** Channels of the packed q||k tensor, C_qk = D_q + D_k. */
    public int packedWidth() {
        return queryWidth() + kvWidth();
    }

    public int queryCompression() {
        return dModel / queryWidth();
    }

    public int kvCompression() {
        return dModel / kvWidth();
    }

    @Override
    public String family() {
        return "ccgqa";
    }
}
