package org.ccalab.common.event;

/** What produced a run, recorded with STARTED. Unknown values are "unknown", never null. */
public record EnvironmentFingerprint(String gitCommit, boolean gitDirty, String engineVersion,
                                     String kernelBuildHash, String backend, String gpuModel, String driverVersion,
                                     String cudaVersion, String jvm, String host) {}
