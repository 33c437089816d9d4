package org.ccalab.engine.train;

import java.nio.file.Path;
import java.util.List;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.engine.attention.Parameter;
import org.ccalab.engine.data.Batch;
import org.ccalab.engine.data.Dataset;
import org.ccalab.engine.model.LanguageModel;
import org.ccalab.engine.model.SplitMix64;
import org.ccalab.engine.run.RunFailedException;

/**
 * The training loop's state and one step of it: draw a batch, forward, cross-entropy, backward, clip by
 * global norm, AdamW at the scheduled learning rate. Everything random comes from generators seeded by
 * the run seed, and every kernel sums in a fixed order, so a seed fixes the whole trajectory; the state a
 * checkpoint needs (weights, moments, step, data generator) is exactly what {@link #save} writes.
 */
public final class Trainer {
    private final LanguageModel model;
    private final Dataset dataset;
    private final TrainingSpec spec;
    private final AdamW optimizer;
    private final LrSchedule schedule;
    private final SplitMix64 dataRng;
    private long step;
    private long tokensSeen;

    public Trainer(LanguageModel model, Dataset dataset, TrainingSpec spec, long seed) {
        this.model = model;
        this.dataset = dataset;
        this.spec = spec;
        this.optimizer = new AdamW(model.parameters(), spec.weightDecay());
        this.schedule = new LrSchedule(spec.learningRate(), spec.warmupSteps(), spec.steps());
        this.dataRng = SplitMix64.derive(seed, "data");
    }

    /** What one update did. */
    public record StepResult(long step, double loss, double gradNorm, double lr, long tokens) {}

    /** Validation loss, its perplexity, and token accuracy (= recall accuracy on the recall task). */
    public record Evaluation(double loss, double perplexity, double accuracy, int scored) {}

    public StepResult step() {
        Batch b = dataset.trainBatch(dataRng, spec.batch(), spec.seqLen());
        model.zeroGrad();
        LanguageModel.Pass pass = model.forward(b.inputs(), b.batch(), b.seqLen());
        CrossEntropy.Result ce = CrossEntropy.compute(pass.logits(), b.targets(), model.config().vocabSize(), true);
        long next = step + 1;
        if (!Double.isFinite(ce.loss()))
            throw new RunFailedException(FailureClass.DIVERGED, "training loss is " + ce.loss() + " at step " + next);
        model.backward(pass, pass.logits());
        List<Parameter> params = model.parameters();
        double norm = GradientClip.globalNorm(params);
        if (!Double.isFinite(norm))
            throw new RunFailedException(FailureClass.DIVERGED, "gradient norm is " + norm + " at step " + next);
        GradientClip.clip(params, norm, spec.gradClip());
        double lr = schedule.at(next);
        optimizer.step(lr);
        step = next;
        tokensSeen += (long) b.batch() * b.seqLen();
        return new StepResult(step, ce.loss(), norm, lr, tokensSeen);
    }

    public Evaluation evaluate() {
        double lossSum = 0;
        long correct = 0;
        int scored = 0;
        for (Batch b : dataset.validationBatches(spec.batch(), spec.seqLen())) {
            LanguageModel.Pass pass = model.forward(b.inputs(), b.batch(), b.seqLen());
            CrossEntropy.Result r = CrossEntropy.compute(pass.logits(), b.targets(), model.config().vocabSize(), false);
            lossSum += r.loss() * r.scored();
            correct += r.correct();
            scored += r.scored();
        }
        double loss = scored == 0 ? Double.NaN : lossSum / scored;
        if (!Double.isFinite(loss) && scored > 0)
            throw new RunFailedException(FailureClass.DIVERGED, "validation loss is " + loss + " at step " + step);
        return new Evaluation(loss, Math.exp(loss), scored == 0 ? Double.NaN : (double) correct / scored, scored);
    }

    public void save(Path file) {
        Checkpoint.write(file, model.parameters(), optimizer,
                new Checkpoint.State(step, optimizer.updates(), dataRng.state(), tokensSeen, model.config().toString()));
    }

    /** Restores weights, moments, step and data position from a checkpoint of the same model. */
    public void restore(Path file) {
        Checkpoint.State s = Checkpoint.read(file, model.parameters(), optimizer, model.config().toString());
        step = s.step();
        tokensSeen = s.tokensSeen();
        dataRng.setState(s.dataRngState());
    }

    /** Updates completed so far. */
    public long completedSteps() {
        return step;
    }

    public long tokensSeen() {
        return tokensSeen;
    }

    public boolean done() {
        return step >= spec.steps();
    }

    public LanguageModel model() {
        return model;
    }

    public Dataset dataset() {
        return dataset;
    }

    public TrainingSpec spec() {
        return spec;
    }
}
