package org.ccalab.engine.run;

import java.nio.file.Path;
import org.ccalab.common.event.EnvironmentFingerprint;
import org.ccalab.common.run.RunSpec;

/**
 * The engine as its hosts (the worker, the CLI) see it: run one run to completion, reporting through the
 * observer. Throws {@link RunStoppedException} when stopped and {@link RunFailedException} with a class
 * when it cannot finish.
 *
 * @param workDir    a directory this run may write checkpoints and artifacts into
 * @param resumeFrom a checkpoint URI from an earlier attempt, or null to start fresh
 */
public interface Engine {
    void run(RunSpec spec, Path workDir, String resumeFrom, RunObserver observer);

    /** The backend this engine computes on and the machine facts recorded with every run. */
    EnvironmentFingerprint environment();

    /**
     * What this engine records for one run of {@code spec} (STARTED): {@link #environment()} with, where the engine
     * knows it, whether the run's backward is deterministic ({@link EnvironmentFingerprint#deterministicBackward}).
     */
    default EnvironmentFingerprint environment(RunSpec spec) {
        return environment();
    }
}
