package org.ccalab.engine.data;

import java.util.random.RandomGenerator;
import org.ccalab.common.validation.Check;

/**
 * Linear-regression in-context learning ([ours], after ovq.md section 9): each sequence draws F functions
 * y = w_f . x + 0.01 eps with w_f ~ N(0, I / d_x), d_x = 16, and streams examples {@code f x_1 .. x_16 y} of
 * uniformly chosen functions, x ~ N(0, I). The model must infer each w_f from that function's earlier examples
 * to predict y. Being a token model, it reads and writes numbers as one of B = 64 uniform bins over [-3, 3]
 * (values outside clamp to the end bins); only y is scored, and accuracy is the exact bin (the paper's metric,
 * MSE, is not reported). Vocabulary: function ids [0, F), bins [F, F + B). Chance: about 1 / 10 for the bins
 * of y's N(0, ~1) spread, higher for a model that learned only that spread.
 */
public final class LinearRegressionIcl extends SyntheticTask {
    public static final int DEFAULT_FUNCTIONS = 16;
    public static final int DIM = 16;
    public static final int BINS = 64;
    static final double RANGE = 3.0;
    private static final int EXAMPLE = DIM + 2;

    private final int functions;

    public LinearRegressionIcl(int functions, long seed) {
        super(seed);
        this.functions = Check.inRange("functions", functions, 1, 128);
    }

    @Override
    public String name() {
        return "linreg";
    }

    @Override
    public int vocabSize() {
        return functions + BINS;
    }

    /** The bin of {@code value}: floor((value + R) / (2R) * B), clamped to [0, B). */
    static int bin(double value) {
        int b = (int) Math.floor((value + RANGE) / (2 * RANGE) * BINS);
        return Math.max(0, Math.min(BINS - 1, b));
    }

    /** The value a bin stands for: its centre. */
    static double centre(int bin) {
        return -RANGE + (bin + 0.5) * (2 * RANGE / BINS);
    }

    @Override
    void checkLength(int seqLen) {
        Check.that(seqLen >= EXAMPLE, "seqLen", "linreg needs seqLen >= " + EXAMPLE + " (one example), got " + seqLen);
    }

    @Override
    void sequence(RandomGenerator rng, int[] seq, boolean[] answer) {
        double[][] w = new double[functions][DIM];
        double scale = 1 / Math.sqrt(DIM);
        for (double[] row : w) for (int j = 0; j < DIM; j++) row[j] = rng.nextGaussian() * scale;
        double[] x = new double[DIM];
        for (int pos = 0; pos + EXAMPLE <= seq.length; pos += EXAMPLE) {
            int f = rng.nextInt(functions);
            double y = 0.01 * rng.nextGaussian();
            for (int j = 0; j < DIM; j++) {
                x[j] = centre(bin(rng.nextGaussian())); // the model sees x only through its bins: regress on those
                y += w[f][j] * x[j];
            }
            seq[pos] = f;
            for (int j = 0; j < DIM; j++) seq[pos + 1 + j] = functions + bin(x[j]);
            seq[pos + EXAMPLE - 1] = functions + bin(y);
            answer[pos + EXAMPLE - 1] = true;
        }
    }
}
