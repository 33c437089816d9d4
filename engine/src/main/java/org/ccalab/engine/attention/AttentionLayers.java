package org.ccalab.engine.attention;

import java.util.random.RandomGenerator;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.engine.attention.cca.CompressedConvAttention;
import org.ccalab.engine.attention.gqa.GqaAttention;
import org.ccalab.engine.attention.mla.MlaAttention;
import org.ccalab.engine.attention.ovq.OvqAttention;
import org.ccalab.engine.backend.cpu.CpuBackend;

/**
 * Builds the CPU reference layer of any variant with deterministic initial weights: the same config and
 * generator state give the same parameters, drawn in {@link AttentionLayer#parameters()} order.
 */
public final class AttentionLayers {
    private AttentionLayers() {}

    public static AttentionLayer create(AttentionConfig config, RandomGenerator rng) {
        return create(config, rng, CpuBackend.create());
    }

    public static AttentionLayer create(AttentionConfig config, RandomGenerator rng, CpuBackend cpu) {
        return switch (config) {
            case MhaConfig m -> new GqaAttention(m, m.asGqa(), cpu, rng);
            case GqaConfig g -> new GqaAttention(g, g, cpu, rng);
            case MlaConfig m -> new MlaAttention(m, cpu, rng);
            case CcaConfig c -> new CompressedConvAttention(c, c.asGrouped(), cpu, rng);
            case CcgqaConfig c -> new CompressedConvAttention(c, c, cpu, rng);
            case OvqConfig o -> new OvqAttention(o, cpu, rng);
        };
    }

    /** Sliding-window MHA (the SWA layers of OVQ hybrids): query t sees keys t - W < s <= t. */
    public static AttentionLayer slidingWindow(MhaConfig shape, int window, RandomGenerator rng) {
        return slidingWindow(shape, window, rng, CpuBackend.create());
    }

    public static AttentionLayer slidingWindow(MhaConfig shape, int window, RandomGenerator rng, CpuBackend cpu) {
        if (window < 1) throw new IllegalArgumentException("window must be >= 1, got " + window);
        return new GqaAttention(shape, shape.asGqa(), window, cpu, rng);
    }
}
