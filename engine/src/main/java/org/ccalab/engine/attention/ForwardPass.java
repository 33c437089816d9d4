package org.ccalab.engine.attention;

import org.ccalab.engine.tensor.Tensor;

/** A forward result: the output [B, T, E] and the variant's saved activations for backward. */
public record ForwardPass(Tensor output, Object saved) {}
