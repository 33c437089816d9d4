package org.ccalab.engine.attention.parts;

import java.util.List;

/** The inputs of a plain softmax attention core (or their gradients), projected and rotated. */
public record Qkv(int batch, int tokens,
                  double[] q,  // [B, T, Hq, Dk]
                  double[] k,  // [B, T, Hkv, Dk]
                  double[] v)  // [B, T, Hkv, Dv]
{
    public List<double[]> buffers() {
        return List.of(q, k, v);
    }
}
