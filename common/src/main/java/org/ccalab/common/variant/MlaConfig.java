package org.ccalab.common.variant;

import org.ccalab.common.validation.Check;

/**
 * Multi-head latent attention (mla.md): KV compressed to a latent of kvLoraRank channels plus one shared
 * decoupled-RoPE key of qkRopeHeadDim; queries projected directly (qLoraRank = 0) or through a low-rank
 * path of qLoraRank. Inner RMSNorms use normEps; RoPE is rotate-half with ropeBase on the rope slices.
 */
public record MlaConfig(int dModel, int nHeads, int qLoraRank, int kvLoraRank, int qkNopeHeadDim,
                        int qkRopeHeadDim, int vHeadDim, double ropeBase, double normEps)
        implements AttentionConfig {
    public MlaConfig {
        if (ropeBase == 0) ropeBase = 10_000.0;
        if (normEps == 0) normEps = 1e-6;
        Check.faults()
                .inRange("dModel", dModel, 1, MAX_WIDTH)
                .inRange("nHeads", nHeads, 1, MAX_HEADS)
                .inRange("qLoraRank", qLoraRank, 0, MAX_WIDTH)
                .inRange("kvLoraRank", kvLoraRank, 1, MAX_WIDTH)
                .inRange("qkNopeHeadDim", qkNopeHeadDim, 0, MAX_HEAD_DIM)
                .inRange("qkRopeHeadDim", qkRopeHeadDim, 0, MAX_HEAD_DIM)
                .that(qkRopeHeadDim % 2 == 0, "qkRopeHeadDim", "must be even (rotate-half pairs), got " + qkRopeHeadDim)
                .inRange("vHeadDim", vHeadDim, 1, MAX_HEAD_DIM)
                .inRange("ropeBase", ropeBase, 1.0, 1e9)
                .inRange("normEps", normEps, 1e-30, 1e-2)
                .throwIfAny();
        Check.that(qkNopeHeadDim + qkRopeHeadDim >= 1, "qkNopeHeadDim", "qkNopeHeadDim + qkRopeHeadDim must be >= 1");
    }

    /** mla.md section 6 defaults at a given width: d_n = d_v = E / nHeads, d_r = 64 (capped at d_n). */
    public static MlaConfig kvMatched(int dModel, int nHeads, int kvLoraRank) {
        int d = dModel / nHeads;
        return new MlaConfig(dModel, nHeads, 0, kvLoraRank, d, Math.min(64, d - d % 2), d, 10_000.0, 1e-6);
    }

    /** Query/key width d_qk = d_n + d_r. */
    public int qkHeadDim() {
        return qkNopeHeadDim + qkRopeHeadDim;
    }

    public boolean hasQueryCompression() {
        return qLoraRank > 0;
    }

    @Override
    public String family() {
        return "mla";
    }
}
