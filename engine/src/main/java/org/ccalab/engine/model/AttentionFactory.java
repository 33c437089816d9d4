package org.ccalab.engine.model;

import java.util.random.RandomGenerator;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.engine.attention.AttentionLayer;

/** Builds one attention layer; production passes {@code AttentionLayers::create}, tests may pass their own. */
@FunctionalInterface
public interface AttentionFactory {
    AttentionLayer create(AttentionConfig config, RandomGenerator rng);
}
