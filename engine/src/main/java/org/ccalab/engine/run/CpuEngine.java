package org.ccalab.engine.run;

import java.nio.file.Path;
import org.ccalab.common.event.EnvironmentFingerprint;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.validation.InvalidConfigException;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.data.CorpusStore;
import org.ccalab.engine.data.Datasets;
import org.ccalab.engine.model.AttentionFactory;

/**
 * The pure-Java float64 engine: trains the LM and benchmarks attention layers on the CPU. Failures reach
 * the host classified: invalid configuration, out of memory, divergence (thrown by the trainer), and any
 * other fault as a code error; a stop request surfaces as {@link RunStoppedException}.
 */
public final class CpuEngine implements Engine {
    private final Datasets datasets;
    private final AttentionFactory attention;
    private final EnvironmentFingerprint environment;

    public CpuEngine() {
        this(new Datasets(CorpusStore.fromEnvironment()), AttentionLayers::create);
    }

    public CpuEngine(Datasets datasets, AttentionFactory attention) {
        this.datasets = datasets;
        this.attention = attention;
        this.environment = EnvironmentProbe.cpu();
    }

    @Override
    public void run(RunSpec spec, Path workDir, String resumeFrom, RunObserver observer) {
        try {
            switch (spec.kind()) {
                case TRAINING -> new TrainingRun(spec, workDir, resumeFrom, observer, datasets, attention).execute();
                case BENCHMARK -> new BenchmarkRun(spec, observer, attention).execute();
            }
        } catch (RunStoppedException | RunFailedException e) {
            throw e;
        } catch (Throwable t) {
            throw classify(t);
        }
    }

    /** Maps a fault to the failure class that tells the scheduler whether a retry can help. */
    static RunFailedException classify(Throwable t) {
        return switch (t) {
            case RunFailedException r -> r;
            case InvalidConfigException e -> new RunFailedException(FailureClass.INVALID_CONFIG, e.getMessage(), e);
            case OutOfMemoryError e -> new RunFailedException(FailureClass.OUT_OF_MEMORY,
                    "out of memory (max heap " + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB): " + e.getMessage(), e);
            default -> new RunFailedException(FailureClass.CODE_ERROR, t.getClass().getSimpleName() + ": " + t.getMessage(), t);
        };
    }

    @Override
    public EnvironmentFingerprint environment() {
        return environment;
    }

    /**
     * Every run's backward is deterministic here, whatever {@code spec.deterministic()} asks: float64, each result
     * element written by one task in a fixed order (backend.cpu.Parallel, model.Dense), no atomics, so the thread
     * count and timing change no bit.
     */
    @Override
    public EnvironmentFingerprint environment(RunSpec spec) {
        return environment.withDeterministicBackward(true);
    }
}
