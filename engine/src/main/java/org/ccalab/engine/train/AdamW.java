package org.ccalab.engine.train;

import java.util.List;
import org.ccalab.engine.attention.Parameter;

/**
 * AdamW (Loshchilov and Hutter 2019): Adam moments with bias correction, and weight decay applied to the
 * weights directly (decoupled), scaled by the learning rate. Vectors (norm gains, biases, temperatures)
 * are not decayed: shrinking them toward 0 changes the function rather than regularising it.
 */
public final class AdamW {
    private final List<Parameter> parameters;
    private final double[][] m; // first moments, one per parameter, its shape
    private final double[][] v; // second moments
    private final boolean[] decay;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private long t;

    public AdamW(List<Parameter> parameters, double weightDecay) {
        this(parameters, 0.9, 0.95, 1e-8, weightDecay);
    }

    public AdamW(List<Parameter> parameters, double beta1, double beta2, double eps, double weightDecay) {
        this.parameters = List.copyOf(parameters);
        this.m = new double[parameters.size()][];
        this.v = new double[parameters.size()][];
        this.decay = new boolean[parameters.size()];
        for (int i = 0; i < parameters.size(); i++) {
            Parameter p = parameters.get(i);
            m[i] = new double[p.value().length()];
            v[i] = new double[p.value().length()];
            decay[i] = p.value().rank() >= 2;
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    public List<Parameter> parameters() {
        return parameters;
    }

    public boolean decays(int index) {
        return decay[index];
    }

    /** Updates taken so far (the bias-correction exponent). */
    public long updates() {
        return t;
    }

    public double[] firstMoment(int index) {
        return m[index];
    }

    public double[] secondMoment(int index) {
        return v[index];
    }

    /** Restores the step count after loading the moments from a checkpoint. */
    public void setUpdates(long updates) {
        this.t = updates;
    }

    public void step(double lr) {
        t++;
        double bc1 = 1 - StrictMath.pow(beta1, t);
        double bc2 = 1 - StrictMath.pow(beta2, t);
        for (int k = 0; k < parameters.size(); k++) {
            double[] w = parameters.get(k).value().data();
            double[] g = parameters.get(k).grad().data();
            double[] mk = m[k];
            double[] vk = v[k];
            double wd = decay[k] ? lr * weightDecay : 0.0;
            for (int i = 0; i < w.length; i++) {
                mk[i] = beta1 * mk[i] + (1 - beta1) * g[i];
                vk[i] = beta2 * vk[i] + (1 - beta2) * g[i] * g[i];
                double mhat = mk[i] / bc1;
                double vhat = vk[i] / bc2;
                w[i] -= wd * w[i] + lr * mhat / (Math.sqrt(vhat) + eps);
            }
        }
    }
}
