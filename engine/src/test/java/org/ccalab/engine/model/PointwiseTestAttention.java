package org.ccalab.engine.model;

import java.util.List;
import java.util.random.RandomGenerator;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.DecodeState;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.tensor.Tensor;

/**
 * TEST-ONLY stand-in for an attention layer: y_t = W x_t + 0.5 * W x_{t-1} (a causal two-tap mix, so
 * positions interact) with one weight W [E, E] named o_proj.weight. Lets the model, trainer and
 * checkpoint tests check the parts this package owns independently of the real variants.
 */
public final class PointwiseTestAttention implements AttentionLayer {
    private final AttentionConfig config;
    private final Parameter w;

    public PointwiseTestAttention(AttentionConfig config, RandomGenerator rng) {
        this.config = config;
        int e = config.dModel();
        this.w = Parameter.zeros("o_proj.weight", e, e);
        double[] v = w.value().data();
        for (int i = 0; i < v.length; i++) v[i] = rng.nextGaussian() * 0.1;
    }

    @Override
    public AttentionConfig config() {
        return config;
    }

    @Override
    public List<Parameter> parameters() {
        return List.of(w);
    }

    @Override
    public ForwardPass forward(Tensor x) {
        int b = x.dim(0), t = x.dim(1), e = x.dim(2);
        double[] wx = new double[b * t * e];
        Dense.forward(wx, x.data(), w.value().data(), b * t, e, e);
        double[] y = wx.clone();
        for (int s = 0; s < b; s++)
            for (int p = 1; p < t; p++)
                for (int i = 0; i < e; i++) y[(s * t + p) * e + i] += 0.5 * wx[(s * t + p - 1) * e + i];
        return new ForwardPass(Tensor.wrap(y, b, t, e), x);
    }

    @Override
    public Tensor backward(ForwardPass pass, Tensor dy) {
        Tensor x = (Tensor) pass.saved();
        int b = x.dim(0), t = x.dim(1), e = x.dim(2);
        double[] dwx = dy.data().clone();
        for (int s = 0; s < b; s++)
            for (int p = 1; p < t; p++)
                for (int i = 0; i < e; i++) dwx[(s * t + p - 1) * e + i] += 0.5 * dy.data()[(s * t + p) * e + i];
        Dense.backwardWeight(w.grad().data(), dwx, x.data(), b * t, e, e);
        double[] dx = new double[b * t * e];
        Dense.backwardInput(dx, dwx, w.value().data(), b * t, e, e);
        return Tensor.wrap(dx, b, t, e);
    }

    @Override
    public DecodeState newDecodeState(int batch) {
        throw new UnsupportedOperationException("test stand-in has no decode");
    }

    @Override
    public Tensor decode(DecodeState state, Tensor xt) {
        throw new UnsupportedOperationException("test stand-in has no decode");
    }
}
