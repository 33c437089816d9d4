package org.ccalab.common.variant;

import org.ccalab.common.validation.Check;

/**
 * The choices ovq.md marks [ours] (the paper's body was not available), each a configuration value whose null
 * takes the spec's recommended default:
 * <ul>
 *   <li>{@code chunkLength} L = 64: tokens read the state folded from earlier chunks plus their own chunk exactly;
 *       the fold runs when a chunk is complete, so decode must use the training L;</li>
 *   <li>{@code dictionarySize} N_max = 1024 centroids per head, and {@code growthLength} = 4096 tokens, the
 *       length at which the {@link OvqGrowth growth} schedule reaches N_max;</li>
 *   <li>{@code assignment} EUCLIDEAN, {@code update} NEWTON (with {@code constantRate} = 0.1, in [1e-6, 1], used by
 *       the CONSTANT ablation only);</li>
 *   <li>{@code stateOnly} false: true drops the exact current-chunk term of the read;</li>
 *   <li>{@code renormalizeCentroids} false: true reads with mu_j / ||mu_j|| instead of mu_j;</li>
 *   <li>{@code learnBeta} true: beta_h = exp(b_h) learnable per head, b_h starting at ln sqrt(d); false keeps
 *       beta = sqrt(d);</li>
 *   <li>{@code stateGradient} true: gradients flow through the fold into earlier keys and values (chunk-level
 *       BPTT, section 6); false stops them at the state;</li>
 *   <li>{@code swaWindow} W = 512: a language model of this family alternates sliding-window attention layers
 *       of window W (with RoPE) and OVQ layers (NoPE), SWA first; 0 builds OVQ layers only.</li>
 * </ul>
 */
public record OvqSpec(Integer chunkLength, Integer dictionarySize, Integer growthLength, OvqGrowth growth,
                      OvqAssignment assignment, OvqUpdate update, Double constantRate, Boolean stateOnly,
                      Boolean renormalizeCentroids, Boolean learnBeta, Boolean stateGradient, Integer swaWindow) {
    public static final OvqSpec DEFAULT = new OvqSpec(null, null, null, null, null, null, null, null, null, null,
            null, null);
    public static final int MAX_CHUNK = 4096;
    public static final int MAX_DICTIONARY = 1 << 16;
    public static final int MAX_LENGTH = 1 << 24;

    public OvqSpec {
        if (chunkLength == null) chunkLength = 64;
        if (dictionarySize == null) dictionarySize = 1024;
        if (growthLength == null) growthLength = 4096;
        if (growth == null) growth = OvqGrowth.LOG;
        if (assignment == null) assignment = OvqAssignment.EUCLIDEAN;
        if (update == null) update = OvqUpdate.NEWTON;
        if (constantRate == null) constantRate = 0.1;
        if (stateOnly == null) stateOnly = false;
        if (renormalizeCentroids == null) renormalizeCentroids = false;
        if (learnBeta == null) learnBeta = true;
        if (stateGradient == null) stateGradient = true;
        if (swaWindow == null) swaWindow = 512;
        Check.faults()
                .inRange("chunkLength", chunkLength, 1, MAX_CHUNK)
                .inRange("dictionarySize", dictionarySize, 1, MAX_DICTIONARY)
                .inRange("growthLength", growthLength, 1, MAX_LENGTH)
                .inRange("constantRate", constantRate, 1e-6, 1.0)
                .inRange("swaWindow", swaWindow, 0, MAX_LENGTH)
                .throwIfAny();
        if (growth == OvqGrowth.LOG) {
            // alpha ln(1 + T / alpha) < T for every alpha, so the log schedule reaches N_max only if N_max < T.
            Check.that(growthLength > dictionarySize, "growthLength", "growthLength (" + growthLength
                    + ") must exceed dictionarySize (" + dictionarySize + ") for LOG growth");
        } else {
            Check.that(growthLength >= dictionarySize, "growthLength", "growthLength (" + growthLength
                    + ") must be at least dictionarySize (" + dictionarySize + ")");
        }
        Check.that(swaWindow == 0 || swaWindow >= chunkLength, "swaWindow", "swaWindow (" + swaWindow
                + ") must be 0 (no SWA layers) or at least chunkLength (" + chunkLength + ")");
    }

    /**
     * The schedule's dictionary size after {@code tokens} tokens, capped at N_max: the target the fold grows
     * towards when a chunk ending at that many tokens is folded. Computed with StrictMath so every machine grows
     * the same dictionary.
     */
    public int dictionaryTarget(long tokens) {
        if (tokens <= 0) return 0;
        double n = switch (growth) {
            case LOG -> {
                double alpha = logAlpha();
                yield alpha * StrictMath.log1p(tokens / alpha);
            }
            case LINEAR -> tokens * (double) dictionarySize / growthLength;
        };
        double target = StrictMath.ceil(n);
        return target >= dictionarySize ? dictionarySize : (int) target;
    }

    /**
     * Active centroids after folding {@code chunks} complete chunks: each fold founds min(L, target - n) new
     * centroids, target = {@link #dictionaryTarget} at the chunk's end, so a schedule that outruns one chunk's
     * tokens catches up in the next folds.
     */
    public int dictionaryAfterChunks(long chunks) {
        int n = 0;
        for (long b = 1; b <= chunks && n < dictionarySize; b++) {
            n += Math.min(chunkLength, Math.max(0, dictionaryTarget(b * chunkLength) - n));
        }
        return n;
    }

    /** alpha with alpha ln(1 + T / alpha) = N_max (T = growthLength), by bisection; the left side grows with alpha. */
    public double logAlpha() {
        double t = growthLength, n = dictionarySize;
        double lo = 1e-9, hi = 1;
        while (hi * StrictMath.log1p(t / hi) < n) hi *= 2;
        for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
            double mid = 0.5 * (lo + hi);
            if (mid * StrictMath.log1p(t / mid) < n) lo = mid; else hi = mid;
        }
        return hi;
    }
}
