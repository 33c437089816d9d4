package org.ccalab.common.variant;

import org.ccalab.common.validation.Check;

/** Multi-head attention as the paper defines it: E x E projections, nHeads heads of E / nHeads. */
public record MhaConfig(int dModel, int nHeads, RopeSpec rope) implements AttentionConfig {
    public MhaConfig {
        Check.faults().inRange("dModel", dModel, 1, MAX_WIDTH).inRange("nHeads", nHeads, 1, MAX_HEADS).throwIfAny();
        Check.divides("nHeads", nHeads, dModel, "dModel");
        Check.headDim(dModel, nHeads, MAX_HEAD_DIM);
        if (rope == null) rope = RopeSpec.FULL;
    }

    public MhaConfig(int dModel, int nHeads) {
        this(dModel, nHeads, RopeSpec.FULL);
    }

    public int headDim() {
        return dModel / nHeads;
    }

    /** The same layer as a GQA whose every query head has its own KV head. */
    public GqaConfig asGqa() {
        return new GqaConfig(dModel, nHeads, nHeads, rope);
    }

    @Override
    public String family() {
        return "mha";
    }
}
