package org.ccalab.engine.model;

import java.util.random.RandomGenerator;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;

/**
 * Builds attention layers; production passes {@code AttentionLayers::create}, tests may pass their own. A
 * language model asks {@link #createLayer} for each block, which follows the family's {@link LayerPattern}.
 */
@FunctionalInterface
public interface AttentionFactory {
    /** A layer of the variant itself. */
    AttentionLayer create(AttentionConfig config, RandomGenerator rng);

    /** A sliding-window MHA layer of a hybrid (OVQ's SWA blocks); the CPU reference unless overridden. */
    default AttentionLayer createSlidingWindow(MhaConfig shape, int window, RandomGenerator rng) {
        return AttentionLayers.slidingWindow(shape, window, rng);
    }

    /** The attention of block {@code layer} of a language model of variant {@code config}. */
    default AttentionLayer createLayer(int layer, AttentionConfig config, RandomGenerator rng) {
        return LayerPattern.slidingWindow(config, layer)
                .map(swa -> createSlidingWindow(swa.shape(), swa.window(), rng))
                .orElseGet(() -> create(config, rng));
    }
}
