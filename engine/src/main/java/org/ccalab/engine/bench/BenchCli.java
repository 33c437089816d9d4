package org.ccalab.engine.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;
import org.ccalab.common.variant.OvqConfig;
import org.ccalab.common.variant.cost.CostModel;
import org.ccalab.engine.attention.AttentionLayer;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.ForwardPass;
import org.ccalab.engine.data.AssociativeRecall;
import org.ccalab.engine.model.Dense;
import org.ccalab.engine.model.LanguageModel;
import org.ccalab.engine.model.ModelConfig;
import org.ccalab.engine.model.SplitMix64;
import org.ccalab.engine.tensor.Tensor;
import org.ccalab.engine.train.Trainer;

/**
 * CPU benchmark of the main kernels, float64: the linear-layer matmul, each attention variant's forward
 * and backward at one width (plus the SWA layer of OVQ hybrids at window S / 4), and a full LM training step.
 * Prints median time, tokens/s and GFLOP/s (matmul: 2 n in out; attention: the exact cost model's causal
 * prefill, backward counted as 2x; training step: 6 x parameters x tokens plus 3x the attention S^2 FLOPs).
 * {@code --quick} uses small sizes. {@code --scaling}: instead, MHA against OVQ over doubling sequence lengths
 * (forward of S tokens; one decode step after a prefill of S tokens), the curve that shows OVQ's linear compute and
 * constant decode cost against attention's quadratic prefill and growing cache.
 */
public final class BenchCli {
    private BenchCli() {}

    public static void main(String[] args) {
        boolean quick = Arrays.asList(args).contains("--quick");
        if (Arrays.asList(args).contains("--scaling")) scaling(quick, System.out);
        else run(quick, System.out);
    }

    /**
     * Forward ms and tokens/s of S tokens, and one decode step's ms at position S (after a prefill of S tokens), for
     * MHA and OVQ of the same width and heads. OVQ's dictionary defaults (chunk 64, N_max 1024) apply, so its state
     * saturates once S passes the growth length; MHA's decode step reads a cache of S tokens.
     */
    static void scaling(boolean quick, PrintStream out) {
        int threads = Runtime.getRuntime().availableProcessors();
        int e = quick ? 64 : 256, heads = 8, reps = quick ? 2 : 3;
        int[] lengths = quick ? new int[] {128, 256, 512} : new int[] {512, 1024, 2048, 4096, 8192};
        out.printf("cca-lab CPU scaling, MHA vs OVQ (float64, E=%d, %d heads, %d hardware threads, %s)%n", e, heads, threads,
                System.getProperty("java.runtime.version"));
        out.printf("%-10s %7s %12s %14s %14s%n", "family", "S", "forward ms", "fwd tokens/s", "decode@S ms");
        for (AttentionConfig cfg : List.of(new MhaConfig(e, heads), new OvqConfig(e, heads))) {
            AttentionLayer layer = AttentionLayers.create(cfg, new SplitMix64(2));
            // JIT warm-up on the shortest length first: run s6-paper-2 timed the first rows of each family before
            // the decode path was compiled (MHA's decode read 14 ms at S = 512 and 1.3 ms at S = 4096).
            for (int w = 0; w < 3; w++) {
                Tensor x = Tensor.wrap(gaussian(new SplitMix64(3), lengths[0] * e), 1, lengths[0], e);
                layer.forward(x);
                var state = layer.newDecodeState(1);
                layer.prefill(state, x);
                for (int i = 0; i < 20; i++) layer.decode(state, Tensor.wrap(gaussian(new SplitMix64(4), e), 1, e));
            }
            for (int s : lengths) {
                Tensor x = Tensor.wrap(gaussian(new SplitMix64(3), s * e), 1, s, e);
                double fwd = medianMs(reps, () -> layer.forward(x));
                var state = layer.newDecodeState(1);
                layer.prefill(state, x);
                Tensor xt = Tensor.wrap(gaussian(new SplitMix64(4), e), 1, e);
                // Each timed step advances the state by one token: the context grows by 21 over S, negligibly.
                double dec = medianMs(20, () -> layer.decode(state, xt));
                out.printf(java.util.Locale.ROOT, "%-10s %7d %12.3f %14.0f %14.4f%n", cfg.family(), s, fwd, s / (fwd / 1e3), dec);
            }
        }
    }

    static void run(boolean quick, PrintStream out) {
        int threads = Runtime.getRuntime().availableProcessors();
        out.printf("cca-lab CPU benchmark (float64, %d hardware threads, %s)%n", threads, System.getProperty("java.runtime.version"));
        out.printf("%-34s %10s %14s %10s%n", "kernel", "p50 ms", "tokens/s", "GFLOP/s");
        int n = quick ? 128 : 1024, e = quick ? 128 : 512;
        matmul(out, n, e, 4 * e, quick ? 3 : 5);
        int d = quick ? 64 : 256, s = quick ? 128 : 512;
        for (AttentionConfig cfg : variants(d)) attention(out, cfg, s, quick ? 3 : 5);
        slidingWindow(out, new MhaConfig(d, 8), s / 4, s, quick ? 3 : 5);
        trainingStep(out, quick);
    }

    static List<AttentionConfig> variants(int d) {
        return List.of(new MhaConfig(d, 8), new GqaConfig(d, 8, 2), MlaConfig.kvMatched(d, 8, d / 4),
                new CcaConfig(d, 8, d / 16), new CcgqaConfig(d, 8, 2, d / 16), new OvqConfig(d, 8));
    }

    /**
     * The SWA layer of OVQ hybrids at window W. FLOPs as the cost model counts MHA, with the causal pairs cut
     * to the window: 2 W_lin per token plus 2 * 2E per query-key pair, sum over t of min(t + 1, W) pairs.
     */
    private static void slidingWindow(PrintStream out, MhaConfig shape, int window, int s, int reps) {
        AttentionLayer layer = AttentionLayers.slidingWindow(shape, window, new SplitMix64(2));
        long pairs = 0;
        for (int t = 0; t < s; t++) pairs += Math.min(t + 1, window);
        double flops = 2.0 * CostModel.linearWeights(shape) * s + 4.0 * shape.dModel() * pairs;
        time(out, layer, "swa W=" + window + " E=" + shape.dModel() + " S=" + s, s, flops, reps);
    }

    private static void matmul(PrintStream out, int n, int in, int outDim, int reps) {
        SplitMix64 rng = new SplitMix64(1);
        double[] x = gaussian(rng, n * in), w = gaussian(rng, outDim * in), y = new double[n * outDim];
        double ms = medianMs(reps, () -> Dense.forward(y, x, w, n, in, outDim));
        row(out, String.format("matmul %dx%d @ %dx%d^T", n, in, outDim, in), ms, n, 2.0 * n * in * outDim);
    }

    private static void attention(PrintStream out, AttentionConfig cfg, int s, int reps) {
        AttentionLayer layer;
        try {
            layer = AttentionLayers.create(cfg, new SplitMix64(2));
        } catch (UnsupportedOperationException e) {
            out.printf("%-34s %s%n", cfg.family() + " attention", "not available: " + e.getMessage());
            return;
        }
        time(out, layer, cfg.family() + " E=" + cfg.dModel() + " S=" + s, s, CostModel.prefillFlopsCausal(cfg, s), reps);
    }

    /** Forward and backward rows of one layer over S tokens; backward counts twice the forward's FLOPs. */
    private static void time(PrintStream out, AttentionLayer layer, String name, int s, double flops, int reps) {
        int e = layer.config().dModel();
        Tensor x = Tensor.wrap(gaussian(new SplitMix64(3), s * e), 1, s, e);
        Tensor dy = Tensor.wrap(gaussian(new SplitMix64(4), s * e), 1, s, e);
        row(out, name + " forward", medianMs(reps, () -> layer.forward(x)), s, flops);
        ForwardPass pass = layer.forward(x);
        row(out, name + " backward", medianMs(reps, () -> layer.backward(pass, dy)), s, 2 * flops);
    }

    private static void trainingStep(PrintStream out, boolean quick) {
        int e = quick ? 64 : 128, seq = quick ? 64 : 128, batch = 8, layers = 2;
        AssociativeRecall data = new AssociativeRecall(64, 1);
        AttentionConfig cfg = new MhaConfig(e, 4);
        ModelConfig mc = new ModelConfig(cfg, data.vocabSize(), layers, 0);
        LanguageModel model = new LanguageModel(mc, AttentionLayers::create, new SplitMix64(5));
        TrainingSpec spec = new TrainingSpec("recall:64", "bytes", layers, seq, batch, 1000, 1e-3, 0, 0.0, 1.0, 1000, 1000, 0);
        Trainer trainer = new Trainer(model, data, spec, 5);
        long tokens = (long) batch * seq;
        double attnFlops = layers * (double) batch * (CostModel.prefillFlopsCausal(cfg, seq) - 2L * CostModel.linearWeights(cfg) * seq);
        double flops = 6.0 * model.parameterCount() * tokens + 3 * attnFlops;
        double ms = medianMs(quick ? 3 : 5, trainer::step);
        row(out, String.format("train step mha E=%d L=%d B=%d T=%d", e, layers, batch, seq), ms, tokens, flops);
    }

    private static void row(PrintStream out, String name, double ms, long tokens, double flops) {
        out.printf(java.util.Locale.ROOT, "%-34s %10.3f %14.0f %10.2f%n", name, ms, tokens / (ms / 1e3), flops / (ms / 1e3) / 1e9);
    }

    private static double medianMs(int reps, Runnable r) {
        r.run(); // warm-up: JIT and first-touch allocation
        List<Double> ms = new ArrayList<>();
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            r.run();
            ms.add((System.nanoTime() - t0) / 1e6);
        }
        ms.sort(null);
        return ms.get(ms.size() / 2);
    }

    private static double medianMs(int reps, Supplier<?> s) {
        return medianMs(reps, (Runnable) s::get);
    }

    private static double[] gaussian(SplitMix64 rng, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = rng.nextGaussian();
        return v;
    }
}
