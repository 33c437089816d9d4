package org.ccalab.common.variant;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * One attention layer's configuration. On the wire the JSON property {@code family} picks the record:
 * {@code {"family":"gqa","dModel":2048,"nHeads":16,"nKvHeads":4}}. Every record validates itself in its
 * compact constructor and throws {@link org.ccalab.common.validation.InvalidConfigException} naming the
 * parameter at fault.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "family")
@JsonSubTypes({
    @JsonSubTypes.Type(value = MhaConfig.class, name = "mha"),
    @JsonSubTypes.Type(value = GqaConfig.class, name = "gqa"),
    @JsonSubTypes.Type(value = MlaConfig.class, name = "mla"),
    @JsonSubTypes.Type(value = CcaConfig.class, name = "cca"),
    @JsonSubTypes.Type(value = CcgqaConfig.class, name = "ccgqa"),
    @JsonSubTypes.Type(value = OvqConfig.class, name = "ovq"),
})
public sealed interface AttentionConfig permits MhaConfig, GqaConfig, MlaConfig, CcaConfig, CcgqaConfig, OvqConfig {
    int MAX_WIDTH = 16384;
    int MAX_HEADS = 256;
    int MAX_HEAD_DIM = 512;

    /** Residual width E. */
    int dModel();

    /** The wire name: mha, gqa, mla, cca, ccgqa, ovq. */
    String family();
}
