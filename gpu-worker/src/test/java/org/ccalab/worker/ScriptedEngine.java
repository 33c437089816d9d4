package org.ccalab.worker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.ccalab.common.event.CheckpointRef;
import org.ccalab.common.event.EnvironmentFingerprint;
import org.ccalab.common.event.MetricPoint;
import org.ccalab.common.run.RunSpec;
import org.ccalab.engine.run.Engine;
import org.ccalab.engine.run.RunFailedException;
import org.ccalab.engine.run.RunObserver;
import org.ccalab.engine.run.RunStoppedException;

/**
 * A test double of the engine that behaves like a training run: {@code steps} steps of {@code stepMillis}, one
 * loss point per step, a checkpoint every {@code checkpointEvery} steps, polling stopRequested at each boundary,
 * resuming after the step named in {@code resumeFrom}. Steps come from the spec's training.steps.
 */
public final class ScriptedEngine implements Engine {
    public volatile long stepMillis = 20;
    public volatile int checkpointEvery = 5;
    public volatile RuntimeException failAtStep5;
    public final List<Long> stepsRun = new CopyOnWriteArrayList<>();
    /** Every spec the worker handed to the engine, in order. */
    public final List<RunSpec> specs = new CopyOnWriteArrayList<>();
    /**
     * Not null: this engine behaves like a CUDA worker whose kernels cannot honour a deterministic backward for the
     * run (CudaEngine's refusal), failing a run that asks with INVALID_CONFIG and this reason.
     */
    public volatile String refuseDeterministic;

    @Override
    public void run(RunSpec spec, Path workDir, String resumeFrom, RunObserver observer) {
        specs.add(spec);
        if (spec.deterministic() && refuseDeterministic != null)
            throw new RunFailedException(org.ccalab.common.event.FailureClass.INVALID_CONFIG, refuseDeterministic);
        int steps = spec.training().steps();
        long first = resumeFrom == null ? 1 : Long.parseLong(resumeFrom.substring(resumeFrom.lastIndexOf('-') + 1)) + 1;
        for (long step = first; step <= steps; step++) {
            if (observer.stopRequested()) throw new RunStoppedException(step);
            if (step == 5 && failAtStep5 != null) throw failAtStep5;
            sleep();
            stepsRun.add(step);
            observer.metrics(List.of(new MetricPoint("train/loss", step, 10.0 / step, step * 64, step * stepMillis / 1000.0)));
            if (step % checkpointEvery == 0) observer.checkpoint(write(workDir, step));
        }
    }

    private void sleep() {
        try {
            Thread.sleep(stepMillis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RunFailedException(org.ccalab.common.event.FailureClass.LOST_WORKER, "interrupted");
        }
    }

    private static CheckpointRef write(Path dir, long step) {
        try {
            Path file = Files.writeString(dir.resolve("step-" + step), "weights at " + step);
            return new CheckpointRef(step, file.toUri() + "#step-" + step, "0".repeat(64), Files.size(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** As a CUDA engine without the worker-wide default: deterministic when the run asks. */
    @Override
    public EnvironmentFingerprint environment(RunSpec spec) {
        return environment().withDeterministicBackward(spec.deterministic());
    }

    @Override
    public EnvironmentFingerprint environment() {
        return new EnvironmentFingerprint("abc123", false, "test", "none", "cpu", "none", "none", "none",
                Runtime.version().toString(), "test-host");
    }
}
