package org.ccalab.engine.backend.cuda;

/**
 * CCA/CCGQA conv and temperature parameters on the device, fp32 (they are small and the prologue accumulates
 * in fp32). {@code w1t} is the grouped conv weight repacked once by {@link #repackW1} from PyTorch's
 * {@code [C, D, k1]} to {@code [Hq + Hkv, k1, D_in, D_out]} so that a block's D threads read consecutive outputs.
 *
 * @param w0    [C, k0] depthwise conv over time
 * @param b0    [C]
 * @param w1t   [Hq + Hkv, k1, D, D]
 * @param b1    [C]
 * @param theta [Hkv] key temperature parameter
 */
public record CcaPrologueWeights(DeviceBuffer w0, DeviceBuffer b0, DeviceBuffer w1t, DeviceBuffer b1, DeviceBuffer theta,
                                 int k0, int k1) implements AutoCloseable {

    /** PyTorch grouped Conv1d weight [C, D, k1] (C = groups x D) -> [groups, k1, D_in, D_out]. */
    public static float[] repackW1(float[] w1, int groups, int headDim, int k1) {
        int d = headDim;
        if (w1.length != groups * d * d * k1)
            throw new IllegalArgumentException("w1 has " + w1.length + " values, expected groups*D*D*k1 = " + groups * d * d * k1);
        float[] out = new float[w1.length];
        for (int g = 0; g < groups; g++)
            for (int o = 0; o < d; o++)
                for (int i = 0; i < d; i++)
                    for (int m = 0; m < k1; m++)
                        out[((g * k1 + m) * d + i) * d + o] = w1[((g * d + o) * d + i) * k1 + m];
        return out;
    }

    @Override
    public void close() {
        w0.close();
        b0.close();
        w1t.close();
        b1.close();
        theta.close();
    }
}
