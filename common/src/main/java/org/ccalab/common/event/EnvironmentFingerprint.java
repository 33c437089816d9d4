package org.ccalab.common.event;

/**
 * What produced a run, recorded with STARTED. Unknown values are "unknown", never null, but for
 * {@code deterministicBackward}: whether this attempt's backward gave the same bits on every run (true on the CPU
 * backend, deterministic by construction; on CUDA, whether the run or the worker's
 * {@code -Dccalab.flash.deterministic} asked for the ordered-add backward), null where the worker did not say
 * (the engine-wide fingerprint, before a run is known, and events of older workers).
 */
public record EnvironmentFingerprint(String gitCommit, boolean gitDirty, String engineVersion,
                                     String kernelBuildHash, String backend, String gpuModel, String driverVersion,
                                     String cudaVersion, String jvm, String host, Boolean deterministicBackward) {

    /** Without {@code deterministicBackward} (null: not said). */
    public EnvironmentFingerprint(String gitCommit, boolean gitDirty, String engineVersion, String kernelBuildHash,
                                  String backend, String gpuModel, String driverVersion, String cudaVersion, String jvm,
                                  String host) {
        this(gitCommit, gitDirty, engineVersion, kernelBuildHash, backend, gpuModel, driverVersion, cudaVersion, jvm,
                host, null);
    }

    /** This fingerprint for one run whose backward was (true) or was not (false) deterministic. */
    public EnvironmentFingerprint withDeterministicBackward(Boolean deterministic) {
        return new EnvironmentFingerprint(gitCommit, gitDirty, engineVersion, kernelBuildHash, backend, gpuModel,
                driverVersion, cudaVersion, jvm, host, deterministic);
    }
}
