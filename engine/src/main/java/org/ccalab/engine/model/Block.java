package org.ccalab.engine.model;

import java.util.ArrayList;
import java.util.List;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.tensor.Tensor;

/** One pre-norm block: x2 = x + attn(norm1(x)); y = x2 + mlp(norm2(x2)). */
final class Block {
    private final AttentionLayer attention;
    private final RmsNorm attnNorm;
    private final RmsNorm mlpNorm;
    private final SwiGluMlp mlp;
    private final List<Parameter> parameters;

    Block(int index, AttentionLayer attention, RmsNorm attnNorm, RmsNorm mlpNorm, SwiGluMlp mlp) {
        this.attention = attention;
        this.attnNorm = attnNorm;
        this.mlpNorm = mlpNorm;
        this.mlp = mlp;
        String prefix = "layers." + index + ".";
        List<Parameter> ps = new ArrayList<>();
        ps.add(attnNorm.weight());
        // The attention layer names its own tensors (q_proj.weight, ...); the block places them under attn.
        for (Parameter p : attention.parameters())
            ps.add(new Parameter(prefix + "attn." + p.name(), p.value(), p.grad()));
        ps.add(mlpNorm.weight());
        ps.addAll(mlp.parameters());
        this.parameters = List.copyOf(ps);
    }

    List<Parameter> parameters() {
        return parameters;
    }

    AttentionLayer attention() {
        return attention;
    }

    /** Saved for backward: block input x [N, E], norm statistics, the attention pass, x2 [N, E], MLP state. */
    record Saved(double[] x, double[] rstd1, ForwardPass attn, double[] x2, double[] rstd2, SwiGluMlp.Saved mlp) {}

    /** y [B*T, E] from x [B*T, E]. */
    Saved forward(double[] y, double[] x, int b, int t, int e) {
        int n = b * t;
        double[] h1 = new double[n * e]; // norm1(x) [N, E]
        double[] rstd1 = attnNorm.forward(h1, x, n);
        ForwardPass attn = attention.forward(Tensor.wrap(h1, b, t, e));
        double[] a = attn.output().data();
        double[] x2 = new double[n * e]; // residual after attention [N, E]
        for (int i = 0; i < x2.length; i++) x2[i] = x[i] + a[i];
        double[] h2 = new double[n * e]; // norm2(x2) [N, E]
        double[] rstd2 = mlpNorm.forward(h2, x2, n);
        SwiGluMlp.Saved m = mlp.forward(y, h2, n);
        for (int i = 0; i < y.length; i++) y[i] += x2[i];
        return new Saved(x, rstd1, attn, x2, rstd2, m);
    }

    /** dx [N, E] from dy [N, E] (dy is not modified). */
    double[] backward(Saved s, double[] dy, int b, int t, int e) {
        int n = b * t;
        double[] dh2 = new double[n * e];
        mlp.backward(dh2, dy, s.mlp());
        double[] dx2 = dy.clone();
        mlpNorm.backward(dx2, dh2, s.x2(), s.rstd2(), n);
        Tensor dh1 = attention.backward(s.attn(), Tensor.wrap(dx2, b, t, e));
        double[] dx = dx2; // the residual path carries dx2 straight through
        attnNorm.backward(dx, dh1.data(), s.x(), s.rstd1(), n);
        return dx;
    }
}
