package org.ccalab.engine.tensor;

import java.util.Arrays;

/**
 * A dense row-major float64 tensor: the CPU reference computes everything in double so that it can serve
 * as the oracle for lower-precision backends and for finite-difference gradient checks.
 */
public final class Tensor {
    private final int[] shape;
    private final double[] data;

    private Tensor(int[] shape, double[] data) {
        this.shape = shape.clone();
        this.data = data;
        if (data.length != size(shape))
            throw new IllegalArgumentException("data length " + data.length + " does not match shape " + Arrays.toString(shape));
    }

    public static Tensor zeros(int... shape) {
        return new Tensor(shape, new double[(int) size(shape)]);
    }

    /** Wraps (does not copy) {@code data}. */
    public static Tensor wrap(double[] data, int... shape) {
        return new Tensor(shape, data);
    }

    public static long size(int... shape) {
        long n = 1;
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n *= s;
        }
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor too large: " + Arrays.toString(shape));
        return n;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int dim(int axis) {
        return shape[axis < 0 ? shape.length + axis : axis];
    }

    public int rank() {
        return shape.length;
    }

    /** The backing array (row-major); mutations are visible. */
    public double[] data() {
        return data;
    }

    public int length() {
        return data.length;
    }

    public Tensor copy() {
        return new Tensor(shape, data.clone());
    }

    public Tensor reshape(int... newShape) {
        return new Tensor(newShape, data);
    }

    public void fill(double v) {
        Arrays.fill(data, v);
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape);
    }
}
