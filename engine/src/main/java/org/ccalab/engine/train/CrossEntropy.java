package org.ccalab.engine.train;

import org.ccalab.engine.data.Batch;
import org.ccalab.engine.model.Dense;

/**
 * Mean next-token cross-entropy over the scored targets, with its gradient. The softmax subtracts each
 * row's max so large logits cannot overflow. StrictMath (fdlibm) rather than Math: Math's intrinsics may
 * differ by an ulp between CPUs, and a run resumed on another worker should follow the same trajectory.
 */
public final class CrossEntropy {
    private CrossEntropy() {}

    /** Loss, correct argmax predictions and the number of scored targets of one batch. */
    public record Result(double loss, int correct, int scored) {}

    /**
     * logits [N, V] -> mean loss over targets != IGNORE. When {@code grad} is true the logits are
     * overwritten with dLoss/dLogits (softmax - onehot) / scored; ignored rows get zero gradient.
     */
    public static Result compute(double[] logits, int[] targets, int vocab, boolean grad) {
        int n = targets.length;
        int scored = 0;
        for (int t : targets) if (t != Batch.IGNORE) scored++;
        double inv = scored == 0 ? 0 : 1.0 / scored;
        double[] rowLoss = new double[n]; // [N]; summed in row order below so the total is thread-independent
        boolean[] rowCorrect = new boolean[n];
        Dense.parallel(n, (long) n * vocab * 4, r -> {
            int off = r * vocab;
            int target = targets[r];
            if (target == Batch.IGNORE) {
                if (grad) java.util.Arrays.fill(logits, off, off + vocab, 0.0);
                return;
            }
            double max = Double.NEGATIVE_INFINITY;
            int argmax = 0;
            for (int j = 0; j < vocab; j++) {
                if (logits[off + j] > max) {
                    max = logits[off + j];
                    argmax = j;
                }
            }
            rowCorrect[r] = argmax == target;
            double sum = 0;
            for (int j = 0; j < vocab; j++) sum += StrictMath.exp(logits[off + j] - max);
            double logZ = max + StrictMath.log(sum);
            rowLoss[r] = logZ - logits[off + target];
            if (grad) {
                for (int j = 0; j < vocab; j++) logits[off + j] = StrictMath.exp(logits[off + j] - logZ) * inv;
                logits[off + target] -= inv;
            }
        });
        double total = 0;
        int correct = 0;
        for (int r = 0; r < n; r++) {
            total += rowLoss[r];
            if (rowCorrect[r]) correct++;
        }
        return new Result(scored == 0 ? 0 : total / scored, correct, scored);
    }
}
