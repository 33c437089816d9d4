package org.ccalab.common.run;

/** CORE: the attention op with its fused prologue; LAYER: the whole layer, projections included. */
public enum Scope { CORE, LAYER }
