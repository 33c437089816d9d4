package org.ccalab.common.variant;

import java.util.List;

/** Everything a client needs to offer one variant family: its fields, a default config and presets. */
public record FamilyDescriptor(String family, String title, String description,
                               List<ParameterDescriptor> parameters, AttentionConfig defaultConfig,
                               List<Preset> presets) {
    public FamilyDescriptor {
        parameters = List.copyOf(parameters);
        presets = List.copyOf(presets);
    }
}
