package org.ccalab.engine.attention.parts;

import java.util.random.RandomGenerator;
import org.ccalab.engine.attention.Parameter;

/**
 * Deterministic initialisation: the same generator state gives the same weights. Linears draw N(0, 0.02^2)
 * (GPT-2 style); convs follow PyTorch's Conv1d default, kaiming_uniform(a = sqrt 5) on the weight and
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the bias, which both come to U(-b, b) with b = 1/sqrt(fan_in),
 * fan_in = in_channels / groups * kernel.
 */
public final class Init {
    public static final double LINEAR_STD = 0.02;

    private Init() {}

    public static Parameter normal(String name, RandomGenerator rng, double std, int... shape) {
        Parameter p = Parameter.zeros(name, shape);
        double[] w = p.value().data();
        for (int i = 0; i < w.length; i++) w[i] = std * rng.nextGaussian();
        return p;
    }

    public static Parameter linear(String name, RandomGenerator rng, int out, int in) {
        return normal(name, rng, LINEAR_STD, out, in);
    }

    public static Parameter uniform(String name, RandomGenerator rng, double bound, int... shape) {
        Parameter p = Parameter.zeros(name, shape);
        double[] w = p.value().data();
        for (int i = 0; i < w.length; i++) w[i] = bound * (2 * rng.nextDouble() - 1);
        return p;
    }

    public static Parameter constant(String name, double value, int... shape) {
        Parameter p = Parameter.zeros(name, shape);
        p.value().fill(value);
        return p;
    }
}
