package org.ccalab.engine.backend.cuda.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.backend.cuda.Bf16;
import org.ccalab.engine.backend.cuda.CudaBackend;
import org.ccalab.engine.backend.cuda.CudaEngine;
import org.ccalab.engine.backend.cuda.DeviceBuffer;
import org.ccalab.engine.backend.cuda.Gemm;
import org.ccalab.engine.data.Batch;
import org.ccalab.engine.data.Dataset;
import org.ccalab.engine.data.TextDataset;
import org.ccalab.engine.model.LanguageModel;
import org.ccalab.engine.model.ModelConfig;
import org.ccalab.engine.model.SplitMix64;
import org.ccalab.engine.run.CpuEngine;
import org.ccalab.engine.tokenizer.ByteTokenizer;
import org.ccalab.engine.train.CrossEntropy;
import org.ccalab.engine.train.Trainer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * On a GPU host (tag {@code gpu}): the GPU training path against the float64 CPU model it mirrors. Every case
 * prints what it compares, the error and the tolerance.
 *
 * <p>Tolerances come from bf16: one rounding has relative error at most 2^-9 (0.2%), RMS about 0.11%. A gradient
 * reaches layer 0 through about a dozen bf16 roundings in series (logits, dlogits, each GEMM output, the residual
 * gradient per sublayer, the dq/dk/dv casts), independent, so they add in quadrature to about 0.4% RMS; the sum
 * over N rows that forms a weight gradient averages independent errors rather than amplifying them. 2e-2 (L2
 * relative, per tensor) leaves a factor of about five over that estimate while still catching any real mistake
 * (a wrong transpose, a missed RoPE, a dropped residual term gives O(1) errors). The loss sees fewer roundings:
 * 1e-2 relative.
 *
 * <p>CCA/CCGQA models ({@link org.ccalab.engine.backend.cuda.CudaCcaLayer}) add bf16 roundings of z, the shifted
 * values, q̂, k̂, dz and dy, and TF32 products in the stage-2 conv GEMMs, and their small conv and temperature
 * tensors sum gradients over few channels: {@link #CCA_GRAD_TOL} = 3e-2, the GPU CCA layer check's bound (a single
 * layer's worst gradient, Python-launched on the same kernels, was 1.3e-2 in run 19).
 *
 * <p>MLA models ({@link org.ccalab.engine.backend.cuda.CudaMlaLayer}) add about as many roundings (q, a, c, the K/V
 * expansion, dKvUp, dc, da, dq) and two RMSNorm gains whose gradients sum over few channels: the same 3e-2, the bound
 * the GPU MLA layer check holds its own gradients to (CudaMlaLayerCheck).
 */
@Tag("gpu")
class GpuTrainingGpuTest {
    static final double LOSS_TOL = 1e-2, GRAD_TOL = 2e-2, CCA_GRAD_TOL = 3e-2;
    private static CudaBackend cuda;

    @BeforeAll
    static void open() {
        assertThat(CudaBackend.probe().available()).as(CudaBackend.probe().reason()).isTrue();
        cuda = CudaBackend.open();
    }

    @AfterAll
    static void close() {
        if (cuda != null) cuda.close();
    }

    static TrainingSpec spec(int batch, int seqLen, int steps) {
        return new TrainingSpec("file:/test", "bytes", 2, seqLen, batch, steps, 3e-3, Math.min(10, steps / 10), 0.1, 1.0,
                1000, 1000, 0);
    }

    @Test
    void castRoundsToNearestEvenLikeTheHost() {
        SplitMix64 rng = new SplitMix64(3);
        float[] x = new float[1001]; // odd: the scalar tail after the pairs
        for (int i = 0; i < x.length; i++) x[i] = (float) (rng.nextGaussian() * Math.pow(10, (i % 9) - 4));
        x[0] = 1.00390625f; // exactly half-way between two bf16 values: ties to even (1.0)
        try (DeviceBuffer in = upload(x); DeviceBuffer out = cuda.allocate(x.length * 2L)) {
            cuda.trainingKernels().castToBf16(out, in, x.length);
            short[] got = cuda.downloadBf16(out, x.length);
            int wrong = 0;
            for (int i = 0; i < x.length; i++) if (got[i] != Bf16.fromFloat(x[i])) wrong++;
            System.out.printf("cast_f32_bf16: %d of %d elements differ from Bf16.fromFloat (tolerance 0)%n", wrong, x.length);
            assertThat(wrong).isZero();
        }
    }

    @Test
    void trainingGemmsMatchFloat64Products() {
        int rows = 96, in = 72, out = 40; // not multiples of the tile sizes
        SplitMix64 rng = new SplitMix64(5);
        short[] x = randomBf16(rows * in, rng), w = randomBf16(out * in, rng), dy = randomBf16(rows * out, rng);
        double[] xd = Bf16.toDoubles(x), wd = Bf16.toDoubles(w), dyd = Bf16.toDoubles(dy);
        Gemm gemm = new Gemm(cuda);
        try (DeviceBuffer xb = upload(x); DeviceBuffer wb = upload(w);
             DeviceBuffer dyb = upload(dy); DeviceBuffer y = cuda.allocate(rows * out * 2L);
             DeviceBuffer dx = cuda.allocate(rows * in * 2L); DeviceBuffer dw = upload(new float[out * in])) {
            gemm.forward(y, xb, wb, rows, in, out);
            double[] yRef = new double[rows * out];
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < out; o++)
                    for (int i = 0; i < in; i++) yRef[r * out + o] += xd[r * in + i] * wd[o * in + i];
            expectClose("y = x W^T (bf16 out)", Bf16.toDoubles(cuda.downloadBf16(y, rows * out)), yRef, 8e-3);
            gemm.backwardInput(dx, dyb, wb, rows, in, out, false);
            gemm.backwardInput(dx, dyb, wb, rows, in, out, true); // accumulate: twice the product
            double[] dxRef = new double[rows * in];
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < out; o++)
                    for (int i = 0; i < in; i++) dxRef[r * in + i] += 2 * dyd[r * out + o] * wd[o * in + i];
            expectClose("dx = dy W, then += dy W (bf16 out)", Bf16.toDoubles(cuda.downloadBf16(dx, rows * in)), dxRef, 1.2e-2);
            gemm.backwardWeight(dw, dyb, xb, rows, in, out);
            gemm.backwardWeight(dw, dyb, xb, rows, in, out);
            double[] dwRef = new double[out * in];
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < out; o++)
                    for (int i = 0; i < in; i++) dwRef[o * in + i] += 2 * dyd[r * out + o] * xd[r * in + i];
            float[] dwGot = cuda.downloadFloats(dw, out * in);
            double[] dwd = new double[dwGot.length];
            for (int i = 0; i < dwd.length; i++) dwd[i] = dwGot[i];
            expectClose("dW += dy^T x twice (fp32 out)", dwd, dwRef, 1e-5);
        }
    }

    // Through Transfers, which waits for the copy to land before a kernel on the backend's stream can read it.
    private static DeviceBuffer upload(float[] x) {
        DeviceBuffer b = cuda.allocate(x.length * 4L);
        Transfers.upload(cuda, b, x);
        return b;
    }

    private static DeviceBuffer upload(short[] x) {
        DeviceBuffer b = cuda.allocate(x.length * 2L);
        Transfers.upload(cuda, b, x);
        return b;
    }

    private static short[] randomBf16(int n, SplitMix64 rng) {
        short[] h = new short[n];
        for (int i = 0; i < n; i++) h[i] = Bf16.fromFloat((float) rng.nextGaussian());
        return h;
    }

    /** L2-relative error; bf16 outputs: 2^-9 per element rounding, so 8e-3 is about four times the RMS. */
    private static void expectClose(String what, double[] got, double[] ref, double tol) {
        double rel = relativeL2(got, ref);
        System.out.printf("%-40s L2 rel err %.3e (tolerance %.1e)%n", what, rel, tol);
        assertThat(rel).as(what).isLessThan(tol);
    }

    static double relativeL2(double[] got, double[] ref) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            num += (got[i] - ref[i]) * (got[i] - ref[i]);
            den += ref[i] * ref[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    static Stream<AttentionConfig> variants() {
        // MHA and GQA at head dim 64, MQA at head dim 128 (the two flash kernel families); CCA (2x compression, D 64)
        // and CCGQA (4 query heads onto 1 KV head, D 64; 2 onto 1 at D 128, LINEAR temperature, k0 = k1 = 3)
        return Stream.of(new MhaConfig(256, 4), new GqaConfig(256, 4, 2), new GqaConfig(256, 2, 1),
                new org.ccalab.common.variant.CcaConfig(256, 2, 64), new org.ccalab.common.variant.CcgqaConfig(256, 4, 1, 64),
                new org.ccalab.common.variant.CcgqaConfig(256, 2, 1, 128, new org.ccalab.common.variant.CompressedConvSpec(3, 3,
                        null, org.ccalab.common.variant.KeyTemperature.LINEAR, null, null, null)),
                // head dim 256 (the CCA layer's hd256 prologue and backward kernels, flash_bwd_wide): CCA 2q/2kv and
                // CCGQA 2q/1kv without the q-k mean (with it, one query head per KV head sits on bf16's sharp-softmax
                // floor at D = 256: CudaCcaLayerCheck; the curve test below trains that default)
                new org.ccalab.common.variant.CcaConfig(512, 2, 256, new org.ccalab.common.variant.CompressedConvSpec(null, null,
                        null, null, null, false, null)),
                new org.ccalab.common.variant.CcgqaConfig(512, 2, 1, 256, new org.ccalab.common.variant.CompressedConvSpec(null,
                        null, null, null, null, false, null)),
                // MLA (d_qk 96 / d_v 64, r_kv 448): direct queries, and the low-rank path with its RMSNorm
                new org.ccalab.common.variant.MlaConfig(256, 4, 0, 448, 32, 64, 64, 10_000.0, 1e-6),
                new org.ccalab.common.variant.MlaConfig(256, 4, 128, 448, 32, 64, 64, 10_000.0, 1e-6),
                // MLA at head dim 64 (d_qk 128 / d_v 64, r_kv 128: no instance of its own, so the prefill core runs padded
                // on the flash kernels) and an odd one (d_qk 48 + 16, d_v 40, r_kv 96, rope 16: padded to head dim 64)
                org.ccalab.common.variant.MlaConfig.kvMatched(256, 4, 128),
                new org.ccalab.common.variant.MlaConfig(256, 4, 0, 96, 48, 16, 40, 10_000.0, 1e-6),
                // OVQ, the hybrid (SWA block, window 64 = T, then an OVQ block, beta fixed at sqrt(D)) at head dim 64 and
                // pure OVQ (learnt beta) at head dim 128, chunks of 16 with a one-row dictionary: every fold decision is
                // forced (the founder is the first token, every key joins row 0), so the float64 CPU and the GPU's bf16
                // projections cannot take different branches. With N_max 40 they do: s16 call 6 measured the same hybrid
                // at logits 1.3e-2 and gradients 1.3-6.9e-2, the pure model at 7.6e-3 / 0.8-4.1e-2, every tensor off
                // together, as a flipped assignment moves a key between rows. The real dictionaries are covered by the
                // kernels' float64 checks on the same inputs (CudaOvqGpuTest: decisions equal, gradients to 1e-6) and by
                // the 60-step curve below. beta_log's gradient (per head a sum of dz z over every logit, both signs) is the
                // worst conditioned tensor: learnt in the hybrid it measured 3.8e-2 at |g| 1.8e-3 (s16 call 7) while
                // every other tensor of that model was within 1.3e-2, and 5e-3 at |g| 4.5e-3 and 1.9e-2 in the pure model;
                // its kernel math is checked where conditioning cannot hide an error, on identical inputs
                // (CudaOvqGpuTest: 1e-6 for the core, 1.7-2.7e-3 through the layer).
                new org.ccalab.common.variant.OvqConfig(256, 4, new org.ccalab.common.variant.OvqSpec(16, 1, 256, null, null,
                        null, null, null, null, false, null, 64)),
                // the hybrid with a window shorter than the sequence (24 < T = 64): its SWA blocks on the flash kernels'
                // windowed instances, the keys t - 24 < s <= t masked inside a key tile
                new org.ccalab.common.variant.OvqConfig(256, 4, new org.ccalab.common.variant.OvqSpec(16, 1, 256, null, null,
                        null, null, null, null, false, null, 24)),
                new org.ccalab.common.variant.OvqConfig(256, 2, new org.ccalab.common.variant.OvqSpec(16, 1, 256, null, null,
                        null, null, null, null, null, null, 0)));
    }

    private static double gradTolerance(AttentionConfig variant) {
        return variant.family().startsWith("cc") || variant.family().equals("mla") ? CCA_GRAD_TOL : GRAD_TOL;
    }

    @ParameterizedTest
    @MethodSource("variants")
    void oneForwardBackwardMatchesTheFloat64CpuModel(AttentionConfig variant) {
        assertOneStepMatchesCpu(variant, 2, 64);
    }

    /**
     * The OVQ hybrid where the sequence holds several windows and a window several key tiles (T 512, W 160: the SWA
     * blocks' windowed kernels start past the first key tile and mask both edges of the window; at T 64 a whole
     * sequence is one tile), one step against the float64 CPU model, with the one-row dictionary of the cases above.
     * Prediction written before its first GPU run: as the window-24 case (logits ~7e-3, worst gradient ~1.3e-2).
     */
    @Test
    void theHybridOverSeveralWindowsMatchesTheFloat64CpuModel() {
        assertOneStepMatchesCpu(new org.ccalab.common.variant.OvqConfig(256, 4, new org.ccalab.common.variant.OvqSpec(16, 1,
                256, null, null, null, null, null, null, false, null, 160)), 1, 512);
    }

    /** One forward and backward of {@code variant} (B b, T t) on the GPU against the float64 CPU model from the same parameters. */
    private static void assertOneStepMatchesCpu(AttentionConfig variant, int b, int t) {
        ModelConfig mc = new ModelConfig(variant, 256, 2, 0);
        LanguageModel cpu = new LanguageModel(mc, AttentionLayers::create, SplitMix64.derive(11, "init"));
        SplitMix64 rng = new SplitMix64(12);
        int[] tokens = new int[b * t], targets = new int[b * t];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rng.nextInt(256);
            targets[i] = i % 7 == 3 ? Batch.IGNORE : rng.nextInt(256); // some rows not scored
        }
        int scored = new Batch(tokens, targets, b, t).scoredTargets();
        // CPU float64
        LanguageModel.Pass pass = cpu.forward(tokens, b, t);
        double[] cpuLogits = pass.logits().clone(); // the cross-entropy below overwrites them with dlogits
        CrossEntropy.Result ce = CrossEntropy.compute(pass.logits(), targets, 256, true);
        cpu.zeroGrad();
        cpu.backward(pass, pass.logits());
        // GPU from the same parameters
        try (GpuLanguageModel gpu = new GpuLanguageModel(cuda, ModelShape.of(mc, spec(b, t, 1)), cpu.parameters())) {
            gpu.parameters().zeroGrads();
            gpu.forward(tokens);
            double logitsRel = relativeL2(gpu.logits(), cpuLogits);
            double gradTol = gradTolerance(variant);
            System.out.printf("%s: logits L2 rel err %.3e (tolerance %.0e)%n", variant, logitsRel, GRAD_TOL);
            gpu.crossEntropy(targets, scored, true);
            double loss = GpuTrainer.meanLoss(gpu.rowLoss(), scored);
            gpu.backward();
            double lossRel = Math.abs(loss - ce.loss()) / ce.loss();
            System.out.printf("%s: loss GPU %.6f CPU %.6f rel err %.2e (tolerance %.0e)%n", variant, loss, ce.loss(),
                    lossRel, LOSS_TOL);
            List<String> failures = new ArrayList<>();
            List<Parameter> ps = cpu.parameters();
            double worst = 0;
            for (int i = 0; i < ps.size(); i++) {
                float[] g = gpu.parameters().downloadGrad(i);
                double[] gd = new double[g.length];
                for (int j = 0; j < g.length; j++) gd[j] = g[j];
                double rel = relativeL2(gd, ps.get(i).grad().data());
                worst = Math.max(worst, rel);
                System.out.printf("  %-40s grad L2 rel err %.3e  |g_cpu| %.3e%n", ps.get(i).name(), rel,
                        Math.sqrt(dot(ps.get(i).grad().data())));
                if (!(rel < gradTol)) failures.add(ps.get(i).name() + " " + rel);
            }
            System.out.printf("%s: worst gradient rel err %.3e (tolerance %.0e)%n", variant, worst, gradTol);
            assertThat(logitsRel).as("logits relative L2 error (the forward alone)").isLessThan(GRAD_TOL);
            assertThat(lossRel).as("loss relative error").isLessThan(LOSS_TOL);
            assertThat(failures).as("gradients above %s relative L2 error", gradTol).isEmpty();
        }
    }

    private static double dot(double[] x) {
        double s = 0;
        for (double v : x) s += v * v;
        return s;
    }

    static Dataset text() {
        String sentence = "the quick brown fox jumps over the lazy dog while the cat sleeps in the warm sun. ";
        StringBuilder sb = new StringBuilder();
        SplitMix64 rng = new SplitMix64(21);
        String[] words = sentence.split(" ");
        for (int i = 0; i < 6000; i++) sb.append(words[rng.nextInt(words.length)]).append(i % 11 == 10 ? ". " : " ");
        ByteTokenizer tok = new ByteTokenizer();
        return new TextDataset("synthetic-words", tok.encode(sb.toString()), tok.vocabSize());
    }

    /**
     * 100 steps on both backends from the same initial model, same batches and schedule (loss 5.5 -> 0.6). Two
     * regimes, measured on the H100 (session 2, run 23): while the runs are still close, bf16's ~0.4% gradient error
     * per update compounds by ~1.5x a step (step 11: 1.7e-4 of max(L, 1 nat), step 21: 9.4e-3), so each of the
     * first 20 steps must be within 2%; through the steep drop (steps 35-55) the two runs cross the same plateau a
     * few steps apart and differ by up to 14% (a first version of this test bounded every step by 8%, a guess made
     * before any GPU run, and failed there: 13.8%); once converged they agree again, so the mean of the last 20
     * losses must be within 5% of the CPU's (measured 1.6%). A wrong gradient term shows in the first 20 steps
     * already (it changes the first update), or as a stalled curve (the fall: last 10 below 80% of the first 10).
     */
    @Test
    void hundredStepsLowerTheLossAndTrackTheCpuRun() {
        int steps = 100;
        TrainingSpec spec = spec(4, 64, steps);
        Dataset data = text();
        ModelConfig mc = new ModelConfig(new GqaConfig(128, 2, 1), data.vocabSize(), spec.nLayers(), spec.mlpHidden());
        assertGpuTracksCpu("", mc, data, spec, steps, 31, 20);
    }

    /**
     * The loss-curve test's CCGQA twin, shorter (60 steps; CCA's float64 CPU layer is the slow side): same batches,
     * schedule and initial model on both backends. A prediction written before any GPU run of it: the first 10
     * steps within 2% of the CPU's (the MHA run's early regime, which a wrong gradient term breaks at once), the
     * mean of the last 10 below 0.8x the first 10, and the last 20 steps' mean within 5% of the CPU's.
     */
    @Test
    void sixtyCcgqaStepsLowerTheLossAndTrackTheCpuRun() {
        assertShortCurve("CCGQA ", new org.ccalab.common.variant.CcgqaConfig(128, 2, 1, 64), 60, 33);
    }

    /** {@link #assertGpuTracksCpu} for {@code variant} over {@code steps} steps of B4 T64, the first 10 held to 2%. */
    private static void assertShortCurve(String label, AttentionConfig variant, int steps, long seed) {
        TrainingSpec spec = spec(4, 64, steps);
        Dataset data = text();
        ModelConfig mc = new ModelConfig(variant, data.vocabSize(), spec.nLayers(), spec.mlpHidden());
        assertGpuTracksCpu(label, mc, data, spec, steps, seed, 10);
    }

    /**
     * CCGQA at head dim 256 with the default conv spec (q-k mean on, 2 query heads onto 1 KV head), 30 steps at E = 512
     * (the float64 CPU side is the slow one). Prediction written before any GPU run of it: the first 10 steps within 2%
     * of the CPU's, the last 10 below 0.8x the first 10, the last 20 steps' mean within 5% (the q/k-path gradients
     * carry more bf16 noise at D = 256 with the q-k mean, but AdamW's first steps and the loss are dominated by the
     * other tensors).
     */
    @Test
    void thirtyCcgqaStepsAtHeadDim256LowerTheLossAndTrackTheCpuRun() {
        assertShortCurve("CCGQA D256 ", new org.ccalab.common.variant.CcgqaConfig(512, 2, 1, 256), 30, 37);
    }

    /**
     * The same for MLA (low-rank queries, d_qk 96 / d_v 64, r_kv 448), 60 steps. Prediction written before any GPU
     * run of it: as the CCGQA run's (first 10 steps within 2% of the CPU's, the last 10 below 0.8x the first 10, the
     * last 20 steps' mean within 5%).
     */
    @Test
    void sixtyMlaStepsLowerTheLossAndTrackTheCpuRun() {
        assertShortCurve("MLA ", new org.ccalab.common.variant.MlaConfig(128, 2, 64, 448, 32, 64, 64, 10_000.0, 1e-6), 60, 35);
    }

    /**
     * The same for the OVQ hybrid (chunks of 16, N_max 40), 60 steps. Prediction written before any GPU run of it: as the
     * CCGQA run's (first 10 steps within 2% of the CPU's, the last 10 below 0.8x the first 10, the last 20 steps' mean
     * within 5%). Session 16 ran it with the SWA window at 64 = T; since session 17 the window is 32 < T, so the SWA
     * blocks run the flash kernels' windowed instances (the same prediction).
     */
    @Test
    void sixtyOvqHybridStepsLowerTheLossAndTrackTheCpuRun() {
        assertShortCurve("OVQ ", new org.ccalab.common.variant.OvqConfig(128, 2, new org.ccalab.common.variant.OvqSpec(16, 40,
                256, null, null, null, null, null, null, null, null, 32)), 60, 39);
    }

    /**
     * {@code steps} steps of {@code mc} on both backends from the same initial model ({@code seed}), batches and
     * schedule; prints the curves (lines led by {@code label}) and asserts that the GPU's loss falls (mean of the last
     * 10 below 0.8x the first 10), that each of the first {@code early} steps is within 2% of the CPU's (relative to
     * max(L, 1)) and that the last 20 steps' means are within 5%.
     */
    private static void assertGpuTracksCpu(String label, ModelConfig mc, Dataset data, TrainingSpec spec, int steps, long seed,
                                           int early) {
        Trainer cpu = new Trainer(new LanguageModel(mc, AttentionLayers::create, SplitMix64.derive(seed, "init")), data, spec, seed);
        double[] cpuLoss = new double[steps], gpuLoss = new double[steps];
        long t0 = System.nanoTime();
        for (int s = 0; s < steps; s++) cpuLoss[s] = cpu.step().loss();
        long t1 = System.nanoTime();
        try (GpuTrainer gpu = new GpuTrainer(cuda,
                new LanguageModel(mc, AttentionLayers::create, SplitMix64.derive(seed, "init")), data, spec, seed)) {
            for (int s = 0; s < steps; s++) gpuLoss[s] = gpu.step().loss();
            assertThat(gpu.done()).isTrue();
        }
        long t2 = System.nanoTime();
        double maxEarly = 0, maxAll = 0;
        for (int s = 0; s < steps; s++) {
            double rel = Math.abs(gpuLoss[s] - cpuLoss[s]) / Math.max(cpuLoss[s], 1.0);
            if (s < early) maxEarly = Math.max(maxEarly, rel);
            maxAll = Math.max(maxAll, rel);
            if (s % 5 == 0 || s == steps - 1)
                System.out.printf(label + "step %3d  loss GPU %.4f CPU %.4f diff / max(L, 1) %.2e%n", s + 1, gpuLoss[s], cpuLoss[s], rel);
        }
        double first = mean(gpuLoss, 0, 10), last = mean(gpuLoss, steps - 10, steps);
        double tailGpu = mean(gpuLoss, steps - 20, steps), tailCpu = mean(cpuLoss, steps - 20, steps);
        double tailRel = Math.abs(tailGpu - tailCpu) / tailCpu;
        System.out.printf(label + "GPU loss mean first 10 %.4f, last 10 %.4f (ratio %.3f, must be < 0.8); vs CPU: max rel in the"
                        + " first %d steps %.2e (tolerance 2e-2), last-20 means %.4f vs %.4f rel %.2e (tolerance 5e-2),"
                        + " max rel over all steps %.2e (reported); CPU %.1f s, GPU %.1f s%n", first, last, last / first,
                early, maxEarly, tailGpu, tailCpu, tailRel, maxAll, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
        assertThat(last).as("mean loss of the last 10 steps vs 0.8 x the first 10").isLessThan(0.8 * first);
        assertThat(maxEarly).as("largest relative loss difference GPU vs CPU over the first " + early + " steps")
                .isLessThan(2e-2);
        assertThat(tailRel).as("mean loss of the last 20 steps, GPU vs CPU").isLessThan(5e-2);
    }

    private static double mean(double[] x, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) s += x[i];
        return s / (to - from);
    }

    /**
     * A GPU checkpoint is the CPU format: the CPU trainer resumes from it with exactly the GPU's fp32 weights
     * (widened to float64) and takes the next step to nearly the GPU's loss; a fresh GPU trainer restores the same
     * weights exactly.
     */
    /** MHA, and CCGQA: its grouped conv weight and moments are held repacked on the device. */
    static Stream<AttentionConfig> checkpointVariants() {
        return Stream.of(new MhaConfig(128, 2), new org.ccalab.common.variant.CcgqaConfig(128, 2, 1, 64));
    }

    @ParameterizedTest
    @MethodSource("checkpointVariants")
    void checkpointsMoveBetweenTheGpuAndCpuTrainers(AttentionConfig variant, @TempDir Path dir) {
        TrainingSpec spec = spec(2, 64, 8);
        Dataset data = text();
        ModelConfig mc = new ModelConfig(variant, data.vocabSize(), spec.nLayers(), spec.mlpHidden());
        Path file = dir.resolve("step-3.safetensors");
        LanguageModel gpuHost = new LanguageModel(mc, AttentionLayers::create, SplitMix64.derive(41, "init"));
        double gpuStep4;
        List<Parameter> saved = new LanguageModel(mc, AttentionLayers::create, SplitMix64.derive(41, "init")).parameters();
        try (GpuTrainer gpu = new GpuTrainer(cuda, gpuHost, data, spec, 41)) {
            for (int s = 0; s < 3; s++) gpu.step();
            gpu.save(file);
            gpu.model().parameters().downloadValues(saved);
            gpuStep4 = gpu.step().loss();
        }
        Trainer cpu = new Trainer(new LanguageModel(mc, AttentionLayers::create, SplitMix64.derive(99, "init")), data, spec, 41);
        cpu.restore(file);
        assertThat(cpu.completedSteps()).isEqualTo(3);
        int differ = 0;
        for (int i = 0; i < saved.size(); i++)
            if (!java.util.Arrays.equals(saved.get(i).value().data(), cpu.model().parameters().get(i).value().data())) differ++;
        double cpuStep4 = cpu.step().loss();
        System.out.printf("checkpoint at step 3: %d tensors differ after the CPU restore (must be 0); step 4 loss GPU %.5f,"
                + " CPU from the GPU checkpoint %.5f (tolerance %.0e relative)%n", differ, gpuStep4, cpuStep4, LOSS_TOL);
        assertThat(differ).isZero();
        assertThat(Math.abs(gpuStep4 - cpuStep4) / cpuStep4).isLessThan(LOSS_TOL);
        LanguageModel other = new LanguageModel(mc, AttentionLayers::create, SplitMix64.derive(7, "init"));
        try (GpuTrainer resumed = new GpuTrainer(cuda, other, data, spec, 41)) {
            resumed.restore(file);
            assertThat(resumed.completedSteps()).isEqualTo(3);
            List<Parameter> back = new LanguageModel(mc, AttentionLayers::create, SplitMix64.derive(7, "init")).parameters();
            resumed.model().parameters().downloadValues(back);
            for (int i = 0; i < saved.size(); i++)
                assertThat(back.get(i).value().data()).as(back.get(i).name()).containsExactly(saved.get(i).value().data());
            double resumedStep4 = resumed.step().loss();
            System.out.printf("GPU resumed from its checkpoint: step 4 loss %.5f vs %.5f uninterrupted%n", resumedStep4, gpuStep4);
            assertThat(Math.abs(resumedStep4 - gpuStep4) / gpuStep4).isLessThan(1e-3);
        }
    }

    @Test
    void theCudaEngineTrainsWithTheCpuRunsMetricsAndCheckpoints(@TempDir Path dir) {
        RunSpec spec = new RunSpec(RunKind.TRAINING, new MhaConfig(128, 2), 5, null,
                new TrainingSpec("recall", "bytes", 2, 64, 2, 6, 3e-3, 2, 0.1, 1.0, 3, 3, 0));
        MetricRecorder gpu = new MetricRecorder(), cpu = new MetricRecorder();
        try (CudaEngine engine = CudaEngine.create()) {
            engine.run(spec, dir.resolve("gpu"), null, gpu);
        }
        new CpuEngine().run(spec, dir.resolve("cpu"), null, cpu);
        System.out.println("CUDA engine metrics " + gpu.countsByName() + ", checkpoints at "
                + gpu.checkpoints.stream().map(CheckpointRef::step).toList());
        System.out.println("CPU engine metrics  " + cpu.countsByName() + ", checkpoints at "
                + cpu.checkpoints.stream().map(CheckpointRef::step).toList());
        assertThat(gpu.countsByName()).isEqualTo(cpu.countsByName());
        assertThat(gpu.countsByName()).containsKeys("train/loss", "lr", "grad_norm", "throughput/tokens_per_s", "val/loss",
                "val/ppl", "recall/accuracy");
        assertThat(gpu.checkpoints).extracting(CheckpointRef::step).containsExactly(3L, 6L);
        assertThat(cpu.checkpoints).extracting(CheckpointRef::step).containsExactly(3L, 6L);
        double gl = gpu.first("train/loss"), cl = cpu.first("train/loss");
        System.out.printf("first train/loss GPU %.5f CPU %.5f (tolerance %.0e relative)%n", gl, cl, LOSS_TOL);
        assertThat(Math.abs(gl - cl) / cl).isLessThan(LOSS_TOL);
        assertThat(gpu.first("lr")).isEqualTo(cpu.first("lr"));
    }
}
