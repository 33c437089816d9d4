package org.ccalab.common.variant;

import org.ccalab.common.validation.Check;

/**
 * Grouped-query attention: nHeads query heads of E / nHeads share nKvHeads key/value heads, each used by
 * {@link #groupSize()} consecutive query heads. MQA is nKvHeads = 1; MHA is nKvHeads = nHeads.
 */
public record GqaConfig(int dModel, int nHeads, int nKvHeads, RopeSpec rope) implements AttentionConfig {
    public GqaConfig {
        Check.faults().inRange("dModel", dModel, 1, MAX_WIDTH).inRange("nHeads", nHeads, 1, MAX_HEADS)
                .positive("nKvHeads", nKvHeads).throwIfAny();
        Check.divides("nHeads", nHeads, dModel, "dModel");
        Check.headDim(dModel, nHeads, MAX_HEAD_DIM);
        Check.divides("nKvHeads", nKvHeads, nHeads, "nHeads");
        if (rope == null) rope = RopeSpec.FULL;
    }

    public GqaConfig(int dModel, int nHeads, int nKvHeads) {
        this(dModel, nHeads, nKvHeads, RopeSpec.FULL);
    }

    public int headDim() {
        return dModel / nHeads;
    }

    /** Query heads per KV head (the paper's G). */
    public int groupSize() {
        return nHeads / nKvHeads;
    }

    @Override
    public String family() {
        return "gqa";
    }
}
