package org.ccalab.common.variant;

import org.ccalab.common.validation.Check;

/**
 * Online vector-quantized attention (ovq.md): MHA-shaped q, k, v, o projections with nHeads heads of
 * E / nHeads; per head, L2-normalised queries and keys read a per-sequence dictionary of key centroids with
 * value sums and counts, learned online during the forward pass, plus their own chunk exactly. Linear compute in
 * the sequence length and a state of constant size once the dictionary is full. The [ours] choices live in
 * {@link OvqSpec}.
 */
public record OvqConfig(int dModel, int nHeads, OvqSpec ovq) implements AttentionConfig {
    public OvqConfig {
        Check.faults().inRange("dModel", dModel, 1, MAX_WIDTH).inRange("nHeads", nHeads, 1, MAX_HEADS).throwIfAny();
        Check.divides("nHeads", nHeads, dModel, "dModel");
        Check.headDim(dModel, nHeads, MAX_HEAD_DIM);
        if (ovq == null) ovq = OvqSpec.DEFAULT;
    }

    public OvqConfig(int dModel, int nHeads) {
        this(dModel, nHeads, OvqSpec.DEFAULT);
    }

    /** d = d_v = E / nHeads. */
    public int headDim() {
        return dModel / nHeads;
    }

    @Override
    public String family() {
        return "ovq";
    }
}
