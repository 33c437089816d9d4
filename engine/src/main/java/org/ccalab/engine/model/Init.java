package org.ccalab.engine.model;

import java.util.random.RandomGenerator;
import org.ccalab.engine.attention.Parameter;

/** Parameter initialisation drawn from a seeded generator, in parameter order, so a seed fixes the model. */
final class Init {
    private Init() {}

    static void normal(Parameter p, double std, RandomGenerator rng) {
        double[] v = p.value().data();
        for (int i = 0; i < v.length; i++) v[i] = rng.nextGaussian() * std;
    }
}
