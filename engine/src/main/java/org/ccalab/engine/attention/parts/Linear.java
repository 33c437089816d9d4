package org.ccalab.engine.attention.parts;

import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.backend.cpu.Matmul;

/** A bias-free Linear with a PyTorch [out, in] weight, over rows of token-major activations. */
public final class Linear {
    private final Parameter weight; // [out, in]
    private final int in, out;

    public Linear(Parameter weight) {
        this.weight = weight;
        this.out = weight.value().dim(0);
        this.in = weight.value().dim(1);
    }

    public Parameter weight() {
        return weight;
    }

    public int in() {
        return in;
    }

    public int out() {
        return out;
    }

    /** y [rows, out] = x [rows, in] W^T. */
    public double[] forward(Matmul mm, double[] x, int rows) {
        double[] y = new double[rows * out];
        mm.nt(y, 0, x, 0, weight.value().data(), 0, rows, in, out, false);
        return y;
    }

    /** dx [rows, in] += dy [rows, out] W; W.grad [out, in] += dy^T x. */
    public void backward(Matmul mm, double[] dx, double[] dy, double[] x, int rows) {
        mm.tn(weight.grad().data(), 0, dy, 0, x, 0, out, rows, in, true);
        if (dx != null) mm.nn(dx, 0, dy, 0, weight.value().data(), 0, rows, out, in, true);
    }
}
