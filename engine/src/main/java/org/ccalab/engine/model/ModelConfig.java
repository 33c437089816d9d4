package org.ccalab.engine.model;

import org.ccalab.common.validation.Check;
import org.ccalab.common.variant.AttentionConfig;

/**
 * The language model's shape: width E comes from the attention variant; mlpHidden 0 takes the SwiGLU
 * default 8/3 * E rounded up to a multiple of 8 (LLaMA's rule, which keeps the MLP at ~ 8 E^2 parameters).
 */
public record ModelConfig(AttentionConfig attention, int vocabSize, int nLayers, int mlpHidden, double normEps) {
    public static final double DEFAULT_NORM_EPS = 1e-6;

    public ModelConfig {
        Check.that(attention != null, "variant", "is required");
        Check.inRange("vocabSize", vocabSize, 2, 1 << 20);
        Check.inRange("nLayers", nLayers, 1, 64);
        // One block of an SWA/OVQ hybrid is its SWA layer alone: a model of family ovq without an OVQ layer.
        Check.that(nLayers >= 2 || !LayerPattern.isHybrid(attention), "nLayers", "an OVQ model with swaWindow "
                + "> 0 alternates SWA (even blocks) and OVQ (odd blocks) and needs nLayers >= 2; set swaWindow 0 "
                + "for OVQ layers only");
        Check.inRange("mlpHidden", mlpHidden, 0, 65_536);
        if (mlpHidden == 0) mlpHidden = ((8 * attention.dModel() / 3) + 7) / 8 * 8;
        Check.inRange("normEps", normEps, 0.0, 1e-2);
    }

    public ModelConfig(AttentionConfig attention, int vocabSize, int nLayers, int mlpHidden) {
        this(attention, vocabSize, nLayers, mlpHidden, DEFAULT_NORM_EPS);
    }

    public int width() {
        return attention.dModel();
    }
}
