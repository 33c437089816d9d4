package org.ccalab.engine.model;

import java.util.Optional;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.OvqConfig;

/**
 * Which attention layer block i of a language model gets. Every family puts its own layer in every block,
 * except OVQ with {@code swaWindow} W > 0 (ovq.md section 4, "Placement"): a layer-wise hybrid whose even
 * blocks (0, 2, ...) are sliding-window MHA of window W with full RoPE, the same heads and width as the OVQ
 * layers, and whose odd blocks are OVQ layers (NoPE). SWA comes first so that the first OVQ layer already reads
 * features that carry short-range position, which the OVQ layers have no other source of.
 */
public final class LayerPattern {
    private LayerPattern() {}

    /** A sliding-window MHA layer: its shape (MHA, full RoPE) and window W. */
    public record SlidingWindow(MhaConfig shape, int window) {}

    /** The sliding-window layer block {@code layer} gets instead of the family's own, if any. */
    public static Optional<SlidingWindow> slidingWindow(AttentionConfig config, int layer) {
        if (config instanceof OvqConfig o && o.ovq().swaWindow() > 0 && layer % 2 == 0)
            return Optional.of(new SlidingWindow(new MhaConfig(o.dModel(), o.nHeads()), o.ovq().swaWindow()));
        return Optional.empty();
    }

    /** True when the model alternates SWA and the family's layers (then it needs at least two blocks). */
    public static boolean isHybrid(AttentionConfig config) {
        return config instanceof OvqConfig o && o.ovq().swaWindow() > 0;
    }
}
