package org.ccalab.engine.backend.cuda;

import java.nio.file.Path;
import org.ccalab.common.event.EnvironmentFingerprint;
import org.ccalab.common.event.FailureClass;
import org.ccalab.common.run.RunSpec;
import org.ccalab.engine.attention.AttentionLayers;
import org.ccalab.engine.backend.cuda.train.GpuTrainer;
import org.ccalab.engine.data.CorpusStore;
import org.ccalab.engine.data.Datasets;
import org.ccalab.engine.run.Engine;
import org.ccalab.engine.run.EnvironmentProbe;
import org.ccalab.engine.run.RunFailedException;
import org.ccalab.engine.run.RunObserver;
import org.ccalab.engine.run.RunStoppedException;
import org.ccalab.engine.run.TrainingRun;

/**
 * The engine on the CUDA backend, found by {@link org.ccalab.engine.run.Engines} by reflection. Runs BENCHMARK
 * runs with our kernels ({@link CudaBenchmarkRun}) and TRAINING runs of MHA/GQA/MQA, CCA/CCGQA, MLA and OVQ models
 * through the CPU engine's {@link TrainingRun} (same data, initial parameters, metrics and checkpoints) with the GPU
 * loop of {@link GpuTrainer} (CCA/CCGQA layers: {@link CudaCcaLayer}; MLA: {@link CudaMlaLayer}; OVQ:
 * {@link CudaOvqLayer}, the hybrid's sliding-window blocks as causal attention while seqLen <= the window). A config
 * the kernels do not cover (MLA head dims, a longer OVQ hybrid sequence) fails as INVALID_CONFIG naming the field: run
 * it with engine.backend=cpu; the engine does not fall back to the CPU per run. OVQ benchmarks run its forward,
 * backward and decode kernels ({@link CudaOvqBenchmark}; its CORE cells time the layer).
 */
public final class CudaEngine implements Engine, AutoCloseable {
    private final CudaBackend cuda;
    private final EnvironmentFingerprint environment;
    private Datasets datasets; // opened by the first TRAINING run: benchmarks never touch the corpus store

    private CudaEngine(CudaBackend cuda) {
        this.cuda = cuda;
        CudaProbe p = cuda.deviceInfo();
        EnvironmentProbe.GitState git = EnvironmentProbe.git();
        String driver = p.driverVersion() / 1000 + "." + p.driverVersion() % 1000 / 10;
        // The kernels are built by the toolkit that compiled the fatbin; the driver's CUDA version is what runs them.
        this.environment = new EnvironmentFingerprint(git.commit(), git.dirty(), EnvironmentProbe.engineVersion(),
                cuda.kernelBuildHash(), "cuda", p.device(), driver, driver, EnvironmentProbe.jvm(), EnvironmentProbe.host());
    }

    /** Opens device 0; throws {@link CudaUnavailableException} with the reason when it cannot. */
    public static CudaEngine create() {
        return new CudaEngine(CudaBackend.open());
    }

    /**
     * Runs {@code spec}. A run with a deterministic backward (its {@code deterministic}, or this worker's
     * -Dccalab.flash.deterministic) is first checked by {@link DeterministicBackward#refusal}: one that needs a backward
     * with no ordered-add form here fails as INVALID_CONFIG with the reason, before touching the device; otherwise the
     * run executes with {@link CudaBackend#DETERMINISTIC_BACKWARD} bound, so every flash backward it launches (on this
     * thread) is the deterministic one while other runs of this backend keep the default.
     */
    @Override
    public void run(RunSpec spec, Path workDir, String resumeFrom, RunObserver observer) {
        try {
            boolean deterministic = deterministicBackward(spec);
            if (deterministic) {
                String refusal = DeterministicBackward.refusal(spec,
                        headDim -> cuda.backwardVariant(new AttentionShape(1, 1, 1, 1, headDim)));
                if (refusal != null) throw new RunFailedException(FailureClass.INVALID_CONFIG, refusal);
            }
            ScopedValue.where(CudaBackend.DETERMINISTIC_BACKWARD, deterministic).run(() -> {
                switch (spec.kind()) {
                    case BENCHMARK -> new CudaBenchmarkRun(cuda, spec, observer).execute();
                    case TRAINING -> {
                        GpuTrainer.requireSupported(spec.variant());
                        if (datasets == null) datasets = new Datasets(CorpusStore.fromEnvironment());
                        new TrainingRun(spec, workDir, resumeFrom, observer, datasets, AttentionLayers::create,
                                GpuTrainer.factory(cuda)).execute();
                    }
                }
            });
        } catch (RunStoppedException | RunFailedException e) {
            throw e;
        } catch (IllegalArgumentException e) { // InvalidConfigException included: bad shapes name their field
            throw new RunFailedException(FailureClass.INVALID_CONFIG, e.getMessage(), e);
        } catch (CudaUnavailableException e) {
            boolean oom = e.getMessage() != null && e.getMessage().startsWith("CUDA out of memory");
            throw new RunFailedException(oom ? FailureClass.OUT_OF_MEMORY : FailureClass.DEVICE_ERROR, e.getMessage(), e);
        } catch (jcuda.CudaException e) {
            throw new RunFailedException(FailureClass.DEVICE_ERROR, "CUDA error: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new RunFailedException(FailureClass.CODE_ERROR, e.getClass().getSimpleName() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public EnvironmentFingerprint environment() {
        return environment;
    }

    /** This worker's fingerprint, saying whether {@code spec}'s backward runs the ordered-add kernels. */
    @Override
    public EnvironmentFingerprint environment(RunSpec spec) {
        return environment.withDeterministicBackward(deterministicBackward(spec));
    }

    /** The run's option or the worker-wide -Dccalab.flash.deterministic: either asking makes it deterministic. */
    private boolean deterministicBackward(RunSpec spec) {
        return spec.deterministic() || cuda.deterministicBackward();
    }

    @Override
    public void close() {
        cuda.close();
    }
}
