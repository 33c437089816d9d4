package org.ccalab.engine.backend.cuda;

import java.util.List;
import java.util.function.IntFunction;
import java.util.stream.IntStream;
import org.ccalab.common.run.BenchmarkSpec;
import org.ccalab.common.run.Phase;
import org.ccalab.common.run.RunKind;
import org.ccalab.common.run.RunSpec;
import org.ccalab.common.variant.AttentionConfig;
import org.ccalab.common.variant.CcaConfig;
import org.ccalab.common.variant.CcgqaConfig;
import org.ccalab.common.variant.GqaConfig;
import org.ccalab.common.variant.MhaConfig;
import org.ccalab.common.variant.MlaConfig;

/**
 * Whether the CUDA engine can give a run a deterministic backward (the run's {@code deterministic}, or the worker's
 * {@code -Dccalab.flash.deterministic=true}), checked before the run touches the device so that it fails as
 * INVALID_CONFIG with the reason instead of running a backward in atomic order. A run computes a backward when it
 * trains, or benchmarks the BACKWARD phase; then, per kernel on that path:
 * <ul>
 * <li>the flash attention backward (MHA/GQA/MQA, and CCA/CCGQA's latent core): deterministic where
 * {@link CudaKernels#hasDeterministicBackward} has an ordered-add instance for the head dim on the kernel this device
 * runs ({@link CudaBackend#backwardVariant});
 * <li>MLA's prefill-core backward: deterministic on the sm_90a wgmma kernel at d_qk 192 / d_v 128 (session 9), and
 * since session 13 at any other (d_qk, d_v) up to 256 (96 / 64 included) on the sm_90a image, run padded on the
 * flash kernels' ordered-add instances (since session 17 on any device where the padded head dim is 64 or 128: the
 * mma.sync backward has them too); refused elsewhere (fp32 atomics into dQ);
 * <li>the CCA/CCGQA prologue backward: deterministic since session 12 (the key temperature's and the stage-1 conv's
 * gradients are per-token / per-chunk partials summed in a fixed order, cca_layer_bwd.cuh; they were fp32 atomics),
 * so CCA/CCGQA training and the BACKWARD/LAYER cell need only their latent core's flash backward to be.
 * </ul>
 * The rest of GPU training is deterministic already: cuBLAS GEMMs on one stream, the embedding and RMSNorm weight
 * gradients summed without float atomics, the gradient norm in parameter order.
 */
final class DeterministicBackward {
    private DeterministicBackward() {}

    /**
     * Why {@code spec} cannot run with a deterministic backward on a backend whose backward for a head dim is
     * {@code kernelFor.apply(headDim)}, or null when it can (or computes no backward at all).
     */
    static String refusal(RunSpec spec, IntFunction<CudaKernels.BwdVariant> kernelFor) {
        AttentionConfig v = spec.variant();
        boolean training = spec.kind() == RunKind.TRAINING;
        BenchmarkSpec bs = spec.benchmark();
        if (!training && !bs.phases().contains(Phase.BACKWARD)) return null; // no backward to order
        String what = training ? "training" : "the BACKWARD phase";
        String prefix = "deterministic=true (the run's option or -Dccalab.flash.deterministic): ";
        if (v instanceof MlaConfig m) {
            // the sm_90a wgmma kernel at d_qk 192 / d_v 128 has an ordered-add twin; any other (d_qk, d_v) runs its
            // backward padded on the flash kernels (CudaMla) where those have one at the padded head dim; the MLA
            // layer's other steps (the latent and up-projection backward) use no float atomics
            boolean wgmma = kernelFor.apply(128) == CudaKernels.BwdVariant.WGMMA;
            int qk = m.qkHeadDim(), vd = m.vHeadDim();
            CudaMlaKernels.BwdInstance inst = CudaMlaKernels.exactBwdInstance(qk, vd, wgmma);
            if (inst != null && inst.hasDeterministic()) return null;
            int padded = CudaMlaKernels.paddedHeadDim(qk, vd);
            if (padded > 0 && CudaKernels.hasDeterministicBackward(padded, kernelFor.apply(padded))) return null;
            if (inst == null && padded < 0) return null; // no CUDA kernel for these dims at all: the engine refuses the variant itself
            return prefix + what + " of " + v.family() + " runs MLA's prefill-core backward at d_qk " + qk + " / d_v " + vd
                    + (inst != null ? " on the " + (wgmma ? "wgmma" : "mma.sync") + " kernel " + inst.name(true)
                    : " padded to the flash kernels' head dim " + padded) + ", whose dQ adds are fp32 atomics with no"
                    + " deterministic form here (ordered-add kernels: MLA's at d_qk 192 / d_v 128 on the sm_90a image, the"
                    + " flash ones at head dims " + deterministicHeadDims(CudaKernels.BwdVariant.MMA) + " on every device and "
                    + deterministicHeadDims() + " on the sm_90a image, which any other (d_qk, d_v) runs padded to); run it"
                    + " with deterministic=false, or on a cpu worker (deterministic by construction)";
        }
        int headDim = switch (v) {
            case MhaConfig m -> m.headDim();
            case GqaConfig g -> g.headDim();
            case CcaConfig a -> a.headDim();
            case CcgqaConfig g -> g.headDim();
            default -> -1; // no CUDA kernels at all: the engine refuses the family itself
        };
        if (headDim < 0) return null;
        CudaKernels.BwdVariant kernel = kernelFor.apply(headDim);
        if (CudaKernels.hasDeterministicBackward(headDim, kernel)) return null;
        return prefix + "this run's " + what + " needs the attention backward at head dim " + headDim + " on the "
                + (kernel == CudaKernels.BwdVariant.WGMMA ? "wgmma" : "mma.sync") + " kernels, which have no deterministic"
                + " (ordered-add) instance; those exist at head dims " + deterministicHeadDims(CudaKernels.BwdVariant.MMA)
                + " on every device (mma.sync) and " + deterministicHeadDims() + " on the wgmma kernels (the sm_90a image)"
                + "; set deterministic=false, or use a cpu worker (deterministic by construction)";
    }

    /** The head dims with an ordered-add backward instance on the wgmma kernels, as CudaKernels has them now. */
    static List<Integer> deterministicHeadDims() {
        return deterministicHeadDims(CudaKernels.BwdVariant.WGMMA);
    }

    /** The head dims with an ordered-add backward instance on {@code kernel}. */
    static List<Integer> deterministicHeadDims(CudaKernels.BwdVariant kernel) {
        return IntStream.of(32, 64, 96, 128, 192, 256).filter(d -> CudaKernels.hasDeterministicBackward(d, kernel)).boxed().toList();
    }
}
