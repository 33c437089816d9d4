package org.ccalab.engine.model;

import java.util.List;
import java.util.random.RandomGenerator;
import org.ccalab.engine.attention.Parameter;

/** y = down( silu(gate(x)) * up(x) ). Forward saves a = gate(x), b = up(x) [n, H]; backward recomputes silu. */
public final class SwiGluMlp {
    private final Parameter gate; // [H, E]
    private final Parameter up;   // [H, E]
    private final Parameter down; // [E, H]
    private final int width;
    private final int hidden;

    public SwiGluMlp(String prefix, int width, int hidden, double std, double downStd, RandomGenerator rng) {
        this.width = width;
        this.hidden = hidden;
        this.gate = Parameter.zeros(prefix + "gate_proj.weight", hidden, width);
        this.up = Parameter.zeros(prefix + "up_proj.weight", hidden, width);
        this.down = Parameter.zeros(prefix + "down_proj.weight", width, hidden);
        Init.normal(gate, std, rng);
        Init.normal(up, std, rng);
        Init.normal(down, downStd, rng);
    }

    public List<Parameter> parameters() {
        return List.of(gate, up, down);
    }

    /** What backward needs: the input x [n, E] and the two pre-activations [n, H]. */
    public record Saved(double[] x, double[] a, double[] b, int n) {}

    /** y [n, E] = mlp(x [n, E]). */
    public Saved forward(double[] y, double[] x, int n) {
        double[] a = new double[n * hidden]; // gate pre-activation [n, H]
        double[] b = new double[n * hidden]; // up projection [n, H]
        Dense.forward(a, x, gate.value().data(), n, width, hidden);
        Dense.forward(b, x, up.value().data(), n, width, hidden);
        double[] h = new double[n * hidden]; // silu(a) * b [n, H]
        for (int i = 0; i < h.length; i++) h[i] = silu(a[i]) * b[i];
        Dense.forward(y, h, down.value().data(), n, hidden, width);
        return new Saved(x, a, b, n);
    }

    /** dx [n, E] += d/dx; parameter gradients accumulate. */
    public void backward(double[] dx, double[] dy, Saved s) {
        int n = s.n();
        double[] h = new double[n * hidden];
        for (int i = 0; i < h.length; i++) h[i] = silu(s.a()[i]) * s.b()[i];
        Dense.backwardWeight(down.grad().data(), dy, h, n, hidden, width);
        double[] dh = h; // reuse: [n, H]
        java.util.Arrays.fill(dh, 0.0);
        Dense.backwardInput(dh, dy, down.value().data(), n, hidden, width);
        double[] da = new double[n * hidden];
        double[] db = new double[n * hidden];
        for (int i = 0; i < da.length; i++) {
            double a = s.a()[i];
            double sig = 1.0 / (1.0 + StrictMath.exp(-a));
            double silu = a * sig;
            db[i] = dh[i] * silu;
            // d silu / da = sig * (1 + a * (1 - sig))
            da[i] = dh[i] * s.b()[i] * sig * (1.0 + a * (1.0 - sig));
        }
        Dense.backwardWeight(gate.grad().data(), da, s.x(), n, width, hidden);
        Dense.backwardWeight(up.grad().data(), db, s.x(), n, width, hidden);
        Dense.backwardInput(dx, da, gate.value().data(), n, width, hidden);
        Dense.backwardInput(dx, db, up.value().data(), n, width, hidden);
    }

    private static double silu(double a) {
        return a / (1.0 + StrictMath.exp(-a));
    }
}
