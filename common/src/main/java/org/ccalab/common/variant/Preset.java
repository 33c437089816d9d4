package org.ccalab.common.variant;

/** A named, ready-made configuration (e.g. the paper's kernel-benchmark set at E = 2048). */
public record Preset(String name, String description, AttentionConfig config) {}
