package org.ccalab.engine.backend.cuda.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.run.TrainingSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.data.CorpusStore;
import org.ccalab.engine.data.Dataset;
import org.ccalab.engine.data.Datasets;
import org.ccalab.engine.model.LanguageModel;
import org.ccalab.engine.model.ModelConfig;
import org.ccalab.engine.run.RunStoppedException;
import org.ccalab.engine.run.TrainingRun;
import org.ccalab.engine.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CPU-only: the contract the CUDA engine relies on when it hands TrainingRun its own loop: refusal before the
 * model is built, the loop driven to the end with the CPU run's metrics, and closed however the run ends.
 */
class TrainingRunLoopTest {
    private static final RunSpec SPEC = new RunSpec(RunKind.TRAINING, new MhaConfig(16, 2), 3, null,
            new TrainingSpec("recall", "bytes", 1, 16, 2, 4, 3e-3, 1, 0.1, 1.0, 2, 4, 0));

    /** A loop over the CPU Trainer that counts how often it is built and closed. */
    static class CountingLoops implements TrainingRun.LoopFactory {
        final AtomicInteger created = new AtomicInteger(), closed = new AtomicInteger();

        @Override
        public TrainingRun.Loop create(LanguageModel model, Dataset data, TrainingSpec spec, long seed) {
            created.incrementAndGet();
            Trainer t = new Trainer(model, data, spec, seed);
            return new TrainingRun.Loop() {
                public Trainer.StepResult step() {
                    return t.step();
                }

                public Trainer.Evaluation evaluate() {
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

                @Override
                public void close() {
                    closed.incrementAndGet();
                }
            };
        }
    }

    private static Datasets datasets() {
        return new Datasets(CorpusStore.fromEnvironment());
    }

    @Test
    void drivesTheGivenLoopToTheEndAndClosesIt(@TempDir Path dir) {
        CountingLoops loops = new CountingLoops();
        MetricRecorder obs = new MetricRecorder();
        new TrainingRun(SPEC, dir, null, obs, datasets(), AttentionLayers::create, loops).execute();
        assertThat(loops.created).hasValue(1);
        assertThat(loops.closed).hasValue(1);
        assertThat(obs.countsByName()).containsEntry("train/loss", 4).containsEntry("val/loss", 2)
                .containsKeys("lr", "grad_norm", "throughput/tokens_per_s", "val/ppl", "recall/accuracy");
        assertThat(obs.checkpoints).hasSize(1);
    }

    @Test
    void closesTheLoopWhenTheRunIsStopped(@TempDir Path dir) {
        CountingLoops loops = new CountingLoops();
        MetricRecorder stopAtOnce = new MetricRecorder() {
            @Override
            public boolean stopRequested() {
                return true;
            }
        };
        assertThatThrownBy(() -> new TrainingRun(SPEC, dir, null, stopAtOnce, datasets(), AttentionLayers::create, loops)
                .execute()).isInstanceOf(RunStoppedException.class);
        assertThat(loops.closed).hasValue(1);
    }

    @Test
    void aRefusalComesBeforeTheModelOrLoopIsBuilt(@TempDir Path dir) {
        CountingLoops loops = new CountingLoops() {
            @Override
            public void requireSupported(ModelConfig config, TrainingSpec spec) {
                throw new InvalidConfigException("variant", "not on this backend");
            }
        };
        assertThatThrownBy(() -> new TrainingRun(SPEC, dir, null, new MetricRecorder(), datasets(),
                (c, r) -> {
                    throw new AssertionError("the model must not be built");
                }, loops).execute()).isInstanceOf(InvalidConfigException.class).hasMessageContaining("not on this backend");
        assertThat(loops.created).hasValue(0);
    }
}
