package org.ccalab.engine.attention;

import org.ccalab.engine.tensor.Tensor;

/**
 * A named trainable tensor in PyTorch layout (Linear [out, in], Conv1d [out, in/groups, kernel]) with its
 * gradient accumulator of the same shape. Names are the safetensors names (e.g. {@code q_proj.weight}).
 */
public record Parameter(String name, Tensor value, Tensor grad) {
    public static Parameter zeros(String name, int... shape) {
        return new Parameter(name, Tensor.zeros(shape), Tensor.zeros(shape));
    }

    public void zeroGrad() {
        grad.fill(0.0);
    }
}
