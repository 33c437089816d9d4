package org.ccalab.engine.backend.cuda.train;

import java.nio.file.Path;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.engine.backend.cuda.CudaBackend;
import org.ccalab.engine.backend.cuda.CudaTrainingKernels;
import org.ccalab.engine.backend.cuda.CudaTrainingKernels.AdamWHyper;
import org.ccalab.engine.data.Batch;
import org.ccalab.engine.data.Dataset;
import org.ccalab.engine.model.LanguageModel;
import org.ccalab.engine.model.ModelConfig;
import org.ccalab.engine.model.SplitMix64;
import org.ccalab.engine.run.RunFailedException;
import org.ccalab.engine.run.TrainingRun;
import org.ccalab.engine.train.AdamW;
import org.ccalab.engine.train.Checkpoint;
import org.ccalab.engine.train.LrSchedule;
import org.ccalab.engine.train.Trainer.Evaluation;
import org.ccalab.engine.train.Trainer.StepResult;

/**
 * train/Trainer on the GPU: the same batches (drawn from the same seeded generator), cross-entropy, global-norm
 * clipping, AdamW (beta 0.9, 0.95, eps 1e-8, decay on matrices only) at the same warmup + cosine schedule, and
 * the same checkpoint format (so a run can resume on either backend). The CPU model supplies the initial
 * parameters and is the host staging area for checkpoints; the step itself never leaves the device except for
 * the per-row losses and the gradient norm, which the host sums in a fixed order.
 */
public final class GpuTrainer implements TrainingRun.Loop {
    /** AdamW's constants as train/AdamW.java's defaults. */
    static final double BETA1 = 0.9, BETA2 = 0.95, EPS = 1e-8;

    private final LanguageModel host;
    private final Dataset dataset;
    private final TrainingSpec spec;
    private final GpuLanguageModel gpu;
    private final CudaTrainingKernels kernels;
    private final LrSchedule schedule;
    private final SplitMix64 dataRng;
    private long step;
    private long updates;
    private long tokensSeen;

    public GpuTrainer(CudaBackend cuda, LanguageModel model, Dataset dataset, TrainingSpec spec, long seed) {
        this.host = model;
        this.dataset = dataset;
        this.spec = spec;
        this.gpu = new GpuLanguageModel(cuda, ModelShape.of(model.config(), spec), model.parameters());
        this.kernels = cuda.trainingKernels();
        this.schedule = new LrSchedule(spec.learningRate(), spec.warmupSteps(), spec.steps());
        this.dataRng = SplitMix64.derive(seed, "data");
    }

    /** The loop factory the CUDA engine hands to {@link TrainingRun}. */
    public static TrainingRun.LoopFactory factory(CudaBackend cuda) {
        return new TrainingRun.LoopFactory() {
            @Override
            public void requireSupported(ModelConfig config, TrainingSpec spec) {
                ModelShape.of(config, spec);
            }

            @Override
            public TrainingRun.Loop create(LanguageModel model, Dataset data, TrainingSpec spec, long seed) {
                return new GpuTrainer(cuda, model, data, spec, seed);
            }
        };
    }

    /**
     * Refuses, with INVALID_CONFIG's exception, a variant GPU training does not support (an MLA config without CUDA
     * kernels): checked before the run opens its data or builds its model.
     */
    public static void requireSupported(AttentionConfig variant) {
        ModelShape.supportedAttention(variant);
    }

    /** The per-tensor AdamW settings of one update: decay only on matrices (AdamW.java's rank >= 2 rule). */
    static AdamWHyper hyper(ParameterLayout.Entry e, double lr, double weightDecay) {
        return new AdamWHyper(lr, BETA1, BETA2, EPS, e.isMatrix() ? weightDecay : 0.0);
    }

    /** GradientClip.clip's factor: min(1, maxNorm / (norm + 1e-6)); maxNorm 0 disables clipping. */
    static float clipScale(double norm, double maxNorm) {
        return maxNorm <= 0 || norm <= maxNorm ? 1f : (float) (maxNorm / (norm + 1e-6));
    }

    @Override
    public StepResult step() {
        Batch b = dataset.trainBatch(dataRng, spec.batch(), spec.seqLen());
        gpu.parameters().zeroGrads();
        gpu.forward(b.inputs());
        int scored = b.scoredTargets();
        gpu.crossEntropy(b.targets(), scored, true);
        double loss = meanLoss(gpu.rowLoss(), scored);
        long next = step + 1;
        if (!Double.isFinite(loss))
            throw new RunFailedException(FailureClass.DIVERGED, "training loss is " + loss + " at step " + next);
        gpu.backward();
        double norm = gpu.gradNorm();
        if (!Double.isFinite(norm))
            throw new RunFailedException(FailureClass.DIVERGED, "gradient norm is " + norm + " at step " + next);
        double lr = schedule.at(next);
        float scale = clipScale(norm, spec.gradClip());
        updates++;
        for (DeviceParameters.Tensor t : gpu.parameters().tensors())
            kernels.adamwStep(t.value(), t.bf16(), t.m(), t.v(), t.grad(), Math.toIntExact(t.entry().elements()),
                    hyper(t.entry(), lr, spec.weightDecay()), Math.toIntExact(updates), scale);
        step = next;
        tokensSeen += (long) b.batch() * b.seqLen();
        return new StepResult(step, loss, norm, lr, tokensSeen);
    }

    /** Mean over the scored rows, summed in row order in double (CrossEntropy.java's order); 0 when none. */
    static double meanLoss(float[] rowLoss, int scored) {
        double total = 0;
        for (float l : rowLoss) total += l;
        return scored == 0 ? 0 : total / scored;
    }

    @Override
    public Evaluation evaluate() {
        double lossSum = 0;
        long correct = 0;
        int scored = 0;
        for (Batch b : dataset.validationBatches(spec.batch(), spec.seqLen())) {
            gpu.forward(b.inputs());
            int s = b.scoredTargets();
            gpu.crossEntropy(b.targets(), s, false);
            lossSum += meanLoss(gpu.rowLoss(), s) * s;
            int[] c = gpu.rowCorrect();
            int[] targets = b.targets();
            for (int r = 0; r < c.length; r++) if (targets[r] != Batch.IGNORE && c[r] != 0) correct++;
            scored += s;
        }
        double loss = scored == 0 ? Double.NaN : lossSum / scored;
        if (!Double.isFinite(loss) && scored > 0)
            throw new RunFailedException(FailureClass.DIVERGED, "validation loss is " + loss + " at step " + step);
        return new Evaluation(loss, Math.exp(loss), scored == 0 ? Double.NaN : (double) correct / scored, scored);
    }

    /** The CPU checkpoint format: weights and moments staged through the host model and a host AdamW. */
    @Override
    public void save(Path file) {
        gpu.parameters().downloadValues(host.parameters());
        AdamW staged = new AdamW(host.parameters(), spec.weightDecay());
        gpu.parameters().downloadMoments(staged);
        staged.setUpdates(updates);
        Checkpoint.write(file, host.parameters(), staged,
                new Checkpoint.State(step, updates, dataRng.state(), tokensSeen, host.config().toString()));
    }

    @Override
    public void restore(Path file) {
        AdamW staged = new AdamW(host.parameters(), spec.weightDecay());
        Checkpoint.State s = Checkpoint.read(file, host.parameters(), staged, host.config().toString());
        gpu.parameters().uploadValues(host.parameters());
        gpu.parameters().uploadMoments(staged);
        step = s.step();
        updates = s.optimizerUpdates();
        tokensSeen = s.tokensSeen();
        dataRng.setState(s.dataRngState());
    }

    @Override
    public long completedSteps() {
        return step;
    }

    @Override
    public boolean done() {
        return step >= spec.steps();
    }

    /** The device model, for tests that compare it with the CPU one. */
    GpuLanguageModel model() {
        return gpu;
    }

    @Override
    public void close() {
        gpu.close();
    }
}
