package org.ccalab.engine.run;

import org.ccalab.engine.io.Sha256;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.event.MetricPoint;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.data.Dataset;
import org.ccalab.engine.data.Datasets;
import org.ccalab.engine.model.AttentionFactory;
import org.ccalab.engine.model.LanguageModel;
import org.ccalab.engine.model.ModelConfig;
import org.ccalab.engine.model.SplitMix64;
import org.ccalab.engine.tokenizer.Tokenizer;
import org.ccalab.engine.train.Trainer;
import org.ccalab.engine.train.Trainer.Evaluation;
import org.ccalab.engine.train.Trainer.StepResult;

/**
 * One TRAINING run: builds tokenizer, dataset, model and trainer from the spec, resumes from a checkpoint
 * when given one, and trains to {@code steps}, reporting per step {@code train/loss}, {@code lr},
 * {@code grad_norm}, {@code throughput/tokens_per_s}; at every evalEvery steps and at the end
 * {@code val/loss}, {@code val/ppl} (and {@code recall/accuracy} on the recall task); a checkpoint every
 * checkpointEvery steps and at the end. The observer is polled before every step.
 *
 * <p>The loop it drives is a {@link Loop}: the CPU {@link Trainer} by default, or another backend's trainer
 * (the CUDA engine's) built by a {@link LoopFactory} from the same CPU model, so that both start from the same
 * parameters and report the same metrics.
 */
public final class TrainingRun {
    private static final System.Logger LOG = System.getLogger(TrainingRun.class.getName());

    private final RunSpec spec;
    private final Path workDir;
    private final String resumeFrom;
    private final RunObserver observer;
    private final Datasets datasets;
    private final AttentionFactory attention;
    private final LoopFactory loops;

    /** What a training run drives: one update at a time, evaluation, and the state a checkpoint holds. */
    public interface Loop extends AutoCloseable {
        StepResult step();

        Evaluation evaluate();

        void save(Path file);

        /** Restores weights, moments, step and data position from a checkpoint of the same model. */
        void restore(Path file);

        long completedSteps();

        boolean done();

        /** Releases what the loop holds beyond the heap (device memory); nothing for the CPU trainer. */
        @Override
        default void close() {}
    }

    /** Builds the loop of a run from its model (built from the run seed: the initial parameters), data, spec, seed. */
    @FunctionalInterface
    public interface LoopFactory {
        /** Refuses, before the model is built, a configuration this loop cannot train; accepts all by default. */
        default void requireSupported(ModelConfig config, TrainingSpec spec) {}

        Loop create(LanguageModel model, Dataset data, TrainingSpec spec, long seed);
    }

    /** The float64 CPU {@link Trainer}; refuses shapes beyond the host's array limits. */
    static final LoopFactory CPU = new LoopFactory() {
        @Override
        public void requireSupported(ModelConfig mc, TrainingSpec ts) {
            CpuLimits.requireArray("logits [batch * seqLen, vocab]", (long) ts.batch() * ts.seqLen() * mc.vocabSize());
            CpuLimits.requireArray("MLP activations [batch * seqLen, mlpHidden]", (long) ts.batch() * ts.seqLen() * mc.mlpHidden());
            CpuMemory.require("training " + mc.attention().family() + " dModel " + mc.attention().dModel() + " x "
                    + mc.nLayers() + " layers at batch " + ts.batch() + " x seqLen " + ts.seqLen(), CpuMemory.trainingBytes(mc, ts));
        }

        @Override
        public Loop create(LanguageModel model, Dataset data, TrainingSpec ts, long seed) {
            return cpuLoop(new Trainer(model, data, ts, seed));
        }
    };

    private static Loop cpuLoop(Trainer t) {
        return new Loop() {
            public StepResult step() {
                return t.step();
            }

            public Evaluation evaluate() {
                return t.evaluate();
            }

            public void save(Path file) {
                t.save(file);
            }

            public void restore(Path file) {
                t.restore(file);
            }

            public long completedSteps() {
                return t.completedSteps();
            }

            public boolean done() {
                return t.done();
            }
        };
    }

    TrainingRun(RunSpec spec, Path workDir, String resumeFrom, RunObserver observer, Datasets datasets,
                AttentionFactory attention) {
        this(spec, workDir, resumeFrom, observer, datasets, attention, CPU);
    }

    public TrainingRun(RunSpec spec, Path workDir, String resumeFrom, RunObserver observer, Datasets datasets,
                       AttentionFactory attention, LoopFactory loops) {
        this.spec = spec;
        this.workDir = workDir;
        this.resumeFrom = resumeFrom;
        this.observer = observer;
        this.datasets = datasets;
        this.attention = attention;
        this.loops = loops;
    }

    public void execute() {
        TrainingSpec ts = spec.training();
        Tokenizer tokenizer = Tokenizer.named(ts.tokenizer());
        Dataset data = datasets.open(ts.dataset(), tokenizer, spec.seed());
        ModelConfig mc = new ModelConfig(spec.variant(), data.vocabSize(), ts.nLayers(), ts.mlpHidden());
        loops.requireSupported(mc, ts);
        LanguageModel model = new LanguageModel(mc, attention, SplitMix64.derive(spec.seed(), "init"));
        try (Loop trainer = loops.create(model, data, ts, spec.seed())) {
            train(trainer, model, data, ts);
        }
    }

    private void train(Loop trainer, LanguageModel model, Dataset data, TrainingSpec ts) {
        if (resumeFrom != null && !resumeFrom.isBlank()) {
            Path checkpoint = checkpointPath(resumeFrom);
            if (checkpoint != null) {
                trainer.restore(checkpoint);
                LOG.log(System.Logger.Level.INFO, "resumed from {0} at step {1}", resumeFrom, trainer.completedSteps());
            } else {
                // A retry may land on another host than the one that wrote the checkpoint. Training is
                // deterministic, so starting over replays the same steps (and the same metric values).
                LOG.log(System.Logger.Level.WARNING, "checkpoint {0} is not readable on this host: starting from step 0", resumeFrom);
            }
        }
        LOG.log(System.Logger.Level.INFO, "training {0} ({1} parameters) on {2}, {3} steps",
                spec.variant().family(), model.parameterCount(), data.name(), ts.steps());
        MetricBuffer metrics = new MetricBuffer(observer);
        long start = System.nanoTime();
        try {
            while (!trainer.done()) {
                if (observer.stopRequested()) throw new RunStoppedException(trainer.completedSteps());
                long t0 = System.nanoTime();
                StepResult r = trainer.step();
                double stepSeconds = (System.nanoTime() - t0) / 1e9;
                double elapsed = (System.nanoTime() - start) / 1e9;
                long tokens = r.tokens();
                metrics.add(new MetricPoint("train/loss", r.step(), r.loss(), tokens, elapsed));
                metrics.add(new MetricPoint("lr", r.step(), r.lr(), tokens, elapsed));
                metrics.add(new MetricPoint("grad_norm", r.step(), r.gradNorm(), tokens, elapsed));
                metrics.add(new MetricPoint("throughput/tokens_per_s", r.step(),
                        (double) ts.batch() * ts.seqLen() / stepSeconds, tokens, elapsed));
                boolean last = trainer.done();
                if (r.step() % ts.evalEvery() == 0 || last) {
                    Evaluation ev = trainer.evaluate();
                    double at = (System.nanoTime() - start) / 1e9;
                    metrics.add(new MetricPoint("val/loss", r.step(), ev.loss(), tokens, at));
                    metrics.add(new MetricPoint("val/ppl", r.step(), ev.perplexity(), tokens, at));
                    if (data.isRecallTask())
                        metrics.add(new MetricPoint("recall/accuracy", r.step(), ev.accuracy(), tokens, at));
                }
                if (r.step() % ts.checkpointEvery() == 0 || last) {
                    metrics.flush(); // points up to the checkpoint reach the host before the checkpoint does
                    observer.checkpoint(writeCheckpoint(trainer));
                }
                metrics.maybeFlush();
            }
        } catch (RuntimeException e) {
            // A divergence or fault still delivers the points of the steps that completed before it.
            metrics.flush();
            throw e;
        }
        metrics.flush();
    }

    private CheckpointRef writeCheckpoint(Loop trainer) {
        long step = trainer.completedSteps();
        Path file = workDir.resolve("checkpoints").resolve(String.format("step-%08d.safetensors", step));
        trainer.save(file);
        try {
            return new CheckpointRef(step, file.toUri().toString(), Sha256.of(file), Files.size(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read back checkpoint " + file, e);
        }
    }

    /**
     * A {@code file:} URI or a plain path; null when it names nothing readable here (another host's file,
     * or a scheme this engine cannot read). A malformed file URI is a configuration error.
     */
    static Path checkpointPath(String uri) {
        Path path;
        if (uri.startsWith("file:")) {
            try {
                path = Path.of(URI.create(uri));
            } catch (IllegalArgumentException e) {
                throw new InvalidConfigException("resumeFrom", "not a file URI: " + uri);
            }
        } else if (uri.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*")) {
            return null;
        } else {
            path = Path.of(uri);
        }
        return Files.isRegularFile(path) ? path : null;
    }
}
